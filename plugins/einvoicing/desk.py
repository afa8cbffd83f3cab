"""The operators' page of invoices that cannot be had as e-invoices ("non
e-facturables"), every organisation's, the latest checked first, each with what it
lacks, and of those the approved platform did not take, with why; a button checks
every invoice again after the issuer's details changed, another sends a failed one
again.
Its blueprint is given with ``operators=True``, so the core keeps it for operators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from sqlalchemy import select

from core.plugin_api import Listing, db, organisation_names, page_rows, read_page, render
from core.plugin_api import gettext as _

from . import checks, transmission
from .models import Refusal, Transmission

desk = Blueprint("einvoicing_desk", __name__, template_folder="templates")
FAILED_SHOWN = 50  # the latest failed transmissions: a handful, each to look into


@desk.get("/")
def index():
    listing = Listing(page=read_page(request.args))
    refusals = page_rows(
        listing, select(Refusal), (Refusal.checked_at.desc(), Refusal.invoice_id.desc())
    )
    failed = db.session.scalars(
        select(Transmission)
        .where(Transmission.state == "failed")
        .order_by(Transmission.updated_at.desc())
        .limit(FAILED_SHOWN)
    ).all()
    wanted = {r.organisation_id for r in [*refusals, *failed]}
    names = organisation_names(wanted)
    return render(
        "einvoicing/desk.html",
        "results",
        listing=listing,
        refusals=refusals,
        failed=failed,
        names=names,
    )


@desk.post("/check")
def check_again():
    """Queue the check of every invoice (after the issuer's details changed)."""
    checks.check_all()
    flash(_("Every invoice will be checked again; this page shows the result."), "success")
    return redirect(url_for("einvoicing_desk.index"), 303)


@desk.post("/send/<int:invoice_id>")
def send_again(invoice_id: int):
    """Queue a failed transmission again (the platform is back, the invoice completed)."""
    sent = db.get_or_404(Transmission, invoice_id)
    if sent.state == "failed":
        sent.state, sent.error = "queued", ""
        db.session.commit()
        transmission.transmit(invoice_id)
        flash(_("Invoice %(number)s will be sent again.", number=sent.number), "success")
    return redirect(url_for("einvoicing_desk.index"), 303)
