"""The reminders sent, as the customer sees them (all of the scope, or one invoice's),
and the operators' desk: each organisation's schedule, what is overdue where, and the
latest reminders."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, request, url_for
from sqlalchemy import func, select

from core.plugin_api import (
    Organisation,
    StatusListing,
    app_settings,
    db,
    ngettext,
    page_rows,
    read_listing,
    render,
    scoped,
    update_app_settings,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from .models import Reminder
from .schedule import BadSchedule, parse

bp = Blueprint("reminders", __name__, template_folder="templates")
desk = Blueprint("reminders_desk", __name__, template_folder="templates")
STATE_LABELS = {
    "queued": _l("To send"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "uncertain": _l("Uncertain"),
    "skipped": _l("Not sent"),
    "failed": _l("Failed"),
}


def step_label(days: int) -> str:
    """A step as people say it: "7 days before the due date", "on the due date"."""
    if days < 0:
        return ngettext(
            "%(num)d day before the due date", "%(num)d days before the due date", -days
        )
    if days == 0:
        return _("On the due date")
    return ngettext("%(num)d day after the due date", "%(num)d days after the due date", days)


@bp.get("/")
def index():
    """The reminders sent to the scope, newest first; ``?invoice=ID``: one invoice's."""
    listing = StatusListing()
    read_listing(listing, request.args, {"date": Reminder.id}, "date", descending=True)
    query = scoped(Reminder)
    invoice = None
    if request.args.get("invoice", "").isdigit():
        invoice = db.session.scalar(
            scoped(Invoice).where(Invoice.id == int(request.args["invoice"]))
        )
        if invoice is None:
            abort(404)
        query = query.where(Reminder.invoice_id == invoice.id)
    rows = page_rows(listing, query, (Reminder.id.desc(),))
    return render(
        "reminders/index.html",
        "results",
        listing=listing,
        reminders=rows,
        invoice=invoice,
        states=STATE_LABELS,
        step_label=step_label,
    )


@desk.route("/", methods=["GET", "POST"])
def overview():
    """What is overdue where (the 50 largest), the latest reminders, and the schedule
    of one organisation (``?organisation=ID``), which the operator may change."""
    today = date.today()
    due = Invoice.total_ttc + Invoice.credited
    overdue = db.session.execute(
        select(Invoice.organisation_id, Organisation.name, func.sum(due), func.count())
        .join(Organisation, Organisation.id == Invoice.organisation_id)
        .where(
            Invoice.status == "to_pay", Invoice.kind == "invoice", due > 0, Invoice.due_on < today
        )
        .group_by(Invoice.organisation_id, Organisation.name)
        .order_by(func.sum(due).desc())
        .limit(50)
    ).all()
    latest = db.session.execute(
        select(Reminder, Organisation.name)
        .join(Organisation, Organisation.id == Reminder.organisation_id)
        .order_by(Reminder.id.desc())
        .limit(50)
    ).all()
    organisation, error, lines = None, "", ""
    if request.values.get("organisation", "").isdigit():
        organisation = db.session.get(Organisation, int(request.values["organisation"]))
        if organisation is None:
            abort(404)
        lines = "\n".join(app_settings(organisation.id, "reminders")["steps"])
        if request.method == "POST":
            lines = request.form.get("steps", "")
            try:
                steps = parse(lines.splitlines())
            except BadSchedule as bad:
                error = _("Not a schedule: %(reason)s", reason=str(bad))
            else:
                update_app_settings(organisation, "reminders", {"steps": [s.line() for s in steps]})
                db.session.commit()
                flash(_("The schedule of %(name)s is saved.", name=organisation.name), "info")
                return redirect(
                    url_for("reminders_desk.overview", organisation=organisation.id), 303
                )
    return render(
        "reminders/desk.html",
        overdue=overdue,
        latest=latest,
        organisation=organisation,
        steps=lines,
        error=error,
        states=STATE_LABELS,
        step_label=step_label,
    ), (422 if error else 200)
