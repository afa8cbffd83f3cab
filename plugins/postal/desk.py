"""The operators' view of letters in the back-office: every organisation's letters,
the failed ones first to hand, each with the reason it failed. Its blueprint is given
with ``operators=True``, so the core keeps it for operators."""

from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    StatusListing,
    organisation_names,
    page_rows,
    read_listing,
    render,
)

from .models import Letter
from .views import STATUS_LABELS

desk = Blueprint("postal_desk", __name__, template_folder="templates")


@desk.get("/")
def index():
    """Letters of every organisation, newest first; ``?status=failed`` shows those that
    could not be posted, with their reason."""
    listing = StatusListing()
    read_listing(listing, request.args, {"date": Letter.id}, "date", descending=True)
    query = select(Letter)
    if listing.read_status(request.args, STATUS_LABELS):
        query = query.where(Letter.status == listing.status)
    order = Letter.id.desc() if listing.descending else Letter.id.asc()
    letters = page_rows(listing, query.options(selectinload(Letter.events)), (order,))
    names = organisation_names(letter.organisation_id for letter in letters)
    return render(
        "postal/desk.html",
        "results",
        listing=listing,
        letters=letters,
        names=names,
        labels=STATUS_LABELS,
    )
