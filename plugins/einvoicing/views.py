"""The page of "Vos factures électroniques": what the formats are, and the latest
invoices with their Factur-X and UBL."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.plugin_api import db, scoped
from plugins.invoices.public import Invoice

bp = Blueprint("einvoicing", __name__, template_folder="templates")
LATEST = 10


@bp.get("/")
def index():
    latest = db.session.scalars(
        scoped(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(LATEST)
    ).all()
    return render_template("einvoicing/index.html", latest=latest)
