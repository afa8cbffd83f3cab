"""The app's page and its widget: the organisation's latest invoices within the user's
scope, as many as the organisation chose. The core answers 404 here wherever the app
(or the invoices app it requires) is off."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.plugin_api import app_settings, current_membership, current_scope, db, render, scoped
from plugins.invoices.public import Invoice

bp = Blueprint("latest_invoices", __name__, template_folder="templates")


def latest() -> tuple[list[Invoice], dict]:
    """The latest invoices of the scope, newest first, and the settings that chose them
    (two queries: the settings' row, then the invoices by an index)."""
    settings = app_settings(current_scope().organisation_id, "latest_invoices")
    query = scoped(Invoice)
    if settings["only_to_pay"]:
        query = query.where(Invoice.kind == "invoice", Invoice.status == "to_pay")
    rows = db.session.scalars(
        query.order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(settings["count"])
    ).all()
    return rows, settings


@bp.get("/")
def index():
    rows, settings = latest()
    is_admin = current_membership().is_admin  # the settings are theirs to change
    return render("latest_invoices/index.html", invoices=rows, settings=settings, is_admin=is_admin)


@bp.get("/widget")
def widget():
    rows, settings = latest()
    return render_template("latest_invoices/widget.html", invoices=rows, settings=settings)
