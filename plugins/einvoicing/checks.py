"""Which invoices cannot be had as e-invoices, and why ("non e-facturables"): every
invoice an import creates or changes is checked by the worker against what EN 16931
needs of its data (:func:`.data.en16931`); those refused are kept with the reason for
the operators' page, and cleared when a later import completes them. The import itself
never waits for this, nor fails because of it."""

from __future__ import annotations

import logging

from flask import current_app, g
from flask_babel import force_locale
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from core.plugin_api import FormatRefused, db, task, utcnow
from plugins.invoices.public import Invoice

from .data import en16931
from .models import Refusal

log = logging.getLogger(__name__)
BATCH = 500  # invoices per task


def note(invoice_id: int) -> None:
    """Remember an imported invoice until :func:`flush` (the end of the request)."""
    g.setdefault("einvoicing_to_check", []).append(invoice_id)


def flush() -> None:
    """Queue the checks of the invoices noted so far, :data:`BATCH` per task; a queue
    that cannot be reached is logged (the import is committed)."""
    noted = g.pop("einvoicing_to_check", None) or []
    try:
        for first in range(0, len(noted), BATCH):
            check_invoices(noted[first : first + BATCH])
    except Exception:  # noqa: BLE001 - the import is committed; say what was not queued
        log.exception("imported invoices could not be queued for their e-invoice check")


@task(kind="documents")
def check_invoices(ids: list[int]) -> int:
    """Check the data of these invoices; returns how many cannot be e-invoices. The
    reasons are written in the installation's language (``BABEL_DEFAULT_LOCALE``)."""
    query = select(Invoice).where(Invoice.id.in_(ids)).options(selectinload(Invoice.lines))
    refused = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for invoice in db.session.scalars(query):
            try:
                en16931(invoice)
            except FormatRefused as error:
                refused.append(
                    {
                        "invoice_id": invoice.id,
                        "organisation_id": invoice.organisation_id,
                        "number": invoice.number,
                        "reason": str(error),
                        "checked_at": utcnow(),
                    }
                )
    db.session.execute(delete(Refusal).where(Refusal.invoice_id.in_(ids)))
    if refused:
        db.session.execute(Refusal.__table__.insert(), refused)
    db.session.commit()
    return len(refused)


@task(kind="documents")
def check_all() -> int:
    """Check every invoice again (after the issuer's details changed): queues one
    :func:`check_invoices` per :data:`BATCH`; returns how many were queued."""
    ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()
    for first in range(0, len(ids), BATCH):
        check_invoices(ids[first : first + BATCH])
    return len(ids)
