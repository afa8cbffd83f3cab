"""The operators' desk in the back-office: requests of every organisation, answered
here. Its blueprint is given with ``operators=True``, so the core keeps it for
operators (everyone else gets 404) and links it through ``guichet_operator_pages``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    Organisation,
    StatusListing,
    db,
    form_status,
    page_rows,
    read_listing,
    render,
    utcnow,
)
from core.plugin_api import gettext as _

from .forms import ReplyForm
from .mail import notify_reply
from .models import Ticket, TicketMessage
from .views import STATUS_LABELS, labels

desk = Blueprint("tickets_desk", __name__, template_folder="templates")
desk.context_processor(labels)  # the customers' pages' status labels


@desk.get("/")
def index():
    """Requests waiting for an answer first (``?status=`` filters), oldest first."""
    listing = StatusListing()
    read_listing(listing, request.args, {"updated": Ticket.updated_at}, "updated", False)
    query = select(Ticket)
    if listing.read_status(request.args, STATUS_LABELS):
        query = query.where(Ticket.status == listing.status)
    order = Ticket.updated_at.desc() if listing.descending else Ticket.updated_at
    rows = page_rows(listing, query.options(selectinload(Ticket.author)), (order, Ticket.id))
    names = dict(
        db.session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({t.organisation_id for t in rows})
            )
        ).all()
    )
    return render("tickets/desk_index.html", "results", listing=listing, tickets=rows, names=names)


@desk.get("/<int:ticket_id>")
def detail(ticket_id: int):
    return _detail(db.get_or_404(Ticket, ticket_id), ReplyForm(formdata=None))


def _detail(ticket: Ticket, form: ReplyForm, status: int = 200):
    organisation = db.session.get(Organisation, ticket.organisation_id)
    return render_template(
        "tickets/desk_detail.html", ticket=ticket, form=form, organisation=organisation
    ), status


@desk.post("/<int:ticket_id>/reply")
def reply(ticket_id: int):
    """Answer a request: the customer is e-mailed (by the worker, once)."""
    ticket = db.get_or_404(Ticket, ticket_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _detail(ticket, form, form_status(form))
    message = TicketMessage(
        organisation_id=ticket.organisation_id,
        author_id=current_user.id,
        from_operator=True,
        body=form.body.data.strip(),
    )
    ticket.messages.append(message)
    ticket.status, ticket.updated_at = "answered", utcnow()
    db.session.commit()
    notify_reply(message.id)  # queued: sent by the worker after the commit
    flash(_("Your answer is sent to the customer."), "info")
    return redirect(url_for("tickets_desk.detail", ticket_id=ticket.id), 303)
