"""The pages of "Vos factures électroniques": what the formats are with the latest
invoices, and an invoice's lifecycle, where the organisation's admin may refuse or
dispute it."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, url_for

from core.plugin_api import (
    current_membership,
    db,
    emit,
    form_status,
    get_scoped_or_404,
    scoped,
    when_context_ends,
)
from core.plugin_api import gettext as _
from plugins.invoices.public import Invoice

from . import checks, lifecycle, transmission
from .forms import BuyerStatusForm
from .models import FINAL

bp = Blueprint("einvoicing", __name__, template_folder="templates")
LATEST = 10
# the invoices an import created or changed are checked by the worker, once it is done
when_context_ends(bp, checks.flush)
when_context_ends(bp, transmission.flush)


@bp.get("/")
def index():
    latest = db.session.scalars(
        scoped(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(LATEST)
    ).all()
    return render_template("einvoicing/index.html", latest=latest)


@bp.route("/<int:invoice_id>", methods=["GET", "POST"])
def statuses(invoice_id: int):
    """ "Cycle de vie": the invoice's statuses; an admin of the organisation may refuse
    or dispute it, with a reason, while no final status closed it."""
    invoice = get_scoped_or_404(Invoice, invoice_id)
    past = lifecycle.history(invoice.id)
    may_answer = current_membership().is_admin and not (past and past[-1].code in FINAL)
    form = BuyerStatusForm()
    if may_answer and form.validate_on_submit():
        try:
            status = lifecycle.record(
                invoice, form.code.data, date.today(), form.reason.data.strip(), "customer"
            )
        except lifecycle.StatusRefused as refused:
            form.code.errors.append(str(refused))
        else:
            db.session.commit()
            if status is not None:
                emit("einvoice.status", lifecycle.event(status, invoice))
            flash(_("Your answer is recorded and sent to your provider."), "success")
            return redirect(url_for("einvoicing.statuses", invoice_id=invoice.id))
    page = render_template(
        "einvoicing/statuses.html",
        invoice=invoice,
        statuses=past,
        form=form if may_answer else None,
    )
    return page, form_status(form)
