"""The operators' view of automatic payments in the back-office: every organisation's
debits, newest first, filtered by state (the failed and the charged back to hand, with
the bank's reason), and the month's figures by state. Its blueprint is given with
``operators=True``, so the core keeps it for operators."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    StatusListing,
    db,
    organisation_names,
    page_rows,
    read_listing,
    render,
)

from .models import Charge
from .views import STATE_LABELS

desk = Blueprint("autopay_desk", __name__, template_folder="templates")
MONTH = timedelta(days=30)


@desk.get("/")
def index():
    """Debits of every organisation; ``?status=failed`` those the bank refused."""
    listing = StatusListing()
    read_listing(listing, request.args, {"date": Charge.id}, "date", descending=True)
    query = select(Charge)
    if listing.read_status(request.args, STATE_LABELS):
        query = query.where(Charge.state == listing.status)
    order = Charge.id.desc() if listing.descending else Charge.id.asc()
    charges = page_rows(listing, query.options(selectinload(Charge.mandate)), (order,))
    names = organisation_names(row.organisation_id for row in charges)
    month = db.session.execute(
        select(Charge.state, func.count(), func.sum(Charge.amount))
        .where(Charge.charge_on >= date.today() - MONTH)
        .group_by(Charge.state)
    ).all()
    return render(
        "autopay/desk.html",
        "results",
        listing=listing,
        charges=charges,
        names=names,
        month={state: (count, amount) for state, count, amount in month},
        labels=STATE_LABELS,
    )
