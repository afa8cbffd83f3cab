"""The operators' page of invoices that cannot be had as e-invoices ("non
e-facturables"), every organisation's, the latest checked first, each with what it
lacks; and a button to check every invoice again after the issuer's details changed.
Its blueprint is given with ``operators=True``, so the core keeps it for operators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.plugin_api import Listing, Organisation, db, page_rows, read_page, render

from . import checks
from .models import Refusal

desk = Blueprint("einvoicing_desk", __name__, template_folder="templates")


@desk.get("/")
def index():
    listing = Listing(page=read_page(request.args))
    refusals = page_rows(
        listing, select(Refusal), (Refusal.checked_at.desc(), Refusal.invoice_id.desc())
    )
    wanted = {r.organisation_id for r in refusals}
    names = dict(
        db.session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
        ).all()
    )
    return render(
        "einvoicing/desk.html", "results", listing=listing, refusals=refusals, names=names
    )


@desk.post("/check")
def check_again():
    """Queue the check of every invoice (after the issuer's details changed)."""
    checks.check_all()
    flash(_("Every invoice will be checked again; this page shows the result."), "success")
    return redirect(url_for("einvoicing_desk.index"), 303)
