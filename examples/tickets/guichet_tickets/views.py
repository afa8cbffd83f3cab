"""The customers' pages: their requests (list, new, detail with the conversation)
and the dashboard widget (the organisation's settings page is the core's, from the
app's ``settings_form``).

The core already answers 404 here for organisations that have not enabled the app,
and sends anonymous visitors to the login page: these views only deal with requests.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, func
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    StatusListing,
    app_settings,
    current_membership,
    db,
    emit,
    form_status,
    page_rows,
    read_listing,
    record_activity,
    render,
    scoped,
    utcnow,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l

from .forms import ReplyForm, TicketForm
from .models import Ticket, TicketMessage

bp = Blueprint("tickets", __name__, template_folder="templates")
STATUS_LABELS = {
    "open": _l("Waiting for your provider"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}


@bp.context_processor
def labels():
    return {"status_labels": STATUS_LABELS}


def visible(query: Select, membership) -> Select:
    """Requests a user may see: all of the organisation's for its admins (and for its
    members when the organisation allows it), else the user's own."""
    if (
        membership.is_admin
        or app_settings(membership.organisation_id, "tickets")["members_see_all"]
    ):
        return query
    return query.where(Ticket.author_id == membership.user_id)


def _ticket_or_404(ticket_id: int) -> Ticket:
    """A request of the user's organisation that the user may see, else 404 (never
    403: another organisation's request does not exist for this user)."""
    found = visible(scoped(Ticket), current_membership()).where(Ticket.id == ticket_id)
    ticket = db.session.scalar(found)
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/")
def index():
    """The requests, most recently active first, filtered by status; the table alone
    for HTMX."""
    listing = StatusListing()
    read_listing(listing, request.args, {"updated": Ticket.updated_at}, "updated", True)
    query = visible(scoped(Ticket), current_membership())
    if listing.read_status(request.args, STATUS_LABELS):
        query = query.where(Ticket.status == listing.status)
    order = Ticket.updated_at.desc() if listing.descending else Ticket.updated_at
    tickets = page_rows(listing, query, (order, Ticket.id.desc()))
    return render(
        "tickets/index.html",
        "results",
        listing=listing,
        tickets=tickets,
        is_admin=current_membership().is_admin,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    membership = current_membership()
    form = TicketForm()
    form.offer(app_settings(membership.organisation_id, "tickets")["categories"])
    if not form.validate_on_submit():
        return render_template("tickets/new.html", form=form), form_status(form)
    ticket = Ticket(
        organisation_id=membership.organisation_id,
        author_id=current_user.id,
        subject=form.subject.data.strip(),
        category=form.category.data if "category" in form else "",
    )
    ticket.messages.append(
        TicketMessage(
            organisation_id=ticket.organisation_id,
            author_id=current_user.id,
            body=form.body.data.strip(),
        )
    )
    db.session.add(ticket)
    db.session.flush()
    emit("ticket.opened", {"organisation_id": ticket.organisation_id, "ticket_id": ticket.id})
    record_activity("ticket.opened", f"#{ticket.id} {ticket.subject}")  # and commits
    flash(_("Your request #%(number)d is sent.", number=ticket.id), "info")
    return redirect(url_for("tickets.detail", ticket_id=ticket.id), 303)


@bp.get("/<int:ticket_id>")
def detail(ticket_id: int):
    return _detail(_ticket_or_404(ticket_id), ReplyForm(formdata=None))


def _detail(ticket: Ticket, form: ReplyForm, status: int = 200):
    messages = db.session.scalars(
        scoped(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id)
        .options(selectinload(TicketMessage.author))
        .order_by(TicketMessage.id)
    ).all()
    return render_template(
        "tickets/detail.html", ticket=ticket, messages=messages, form=form
    ), status


@bp.post("/<int:ticket_id>/reply")
def reply(ticket_id: int):
    """The customer adds a message: the request waits for the provider again."""
    ticket = _ticket_or_404(ticket_id)
    form = ReplyForm()
    if ticket.status == "closed":
        form.form_errors.append(_("This request is closed; open a new one."))
        return _detail(ticket, form, form_status(form))
    if not form.validate_on_submit():
        return _detail(ticket, form, form_status(form))
    ticket.messages.append(
        TicketMessage(
            organisation_id=ticket.organisation_id,
            author_id=current_user.id,
            body=form.body.data.strip(),
        )
    )
    ticket.status, ticket.updated_at = "open", utcnow()
    db.session.commit()
    return redirect(url_for("tickets.detail", ticket_id=ticket.id), 303)


@bp.post("/<int:ticket_id>/close")
def close(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    ticket.status, ticket.updated_at = "closed", utcnow()
    db.session.commit()
    flash(_("Request #%(number)d is closed.", number=ticket.id), "info")
    return redirect(url_for("tickets.detail", ticket_id=ticket.id), 303)


@bp.get("/widget")
def widget():
    """Dashboard widget: requests by status, and the three most recent."""
    query = visible(scoped(Ticket), current_membership())
    counts = dict(
        db.session.execute(
            query.with_only_columns(Ticket.status, func.count()).group_by(Ticket.status)
        ).all()
    )
    latest = db.session.scalars(
        query.where(Ticket.status != "closed").order_by(Ticket.updated_at.desc()).limit(3)
    ).all()
    return render_template(
        "tickets/widget.html", counts=counts, latest=latest, status_labels=STATUS_LABELS
    )
