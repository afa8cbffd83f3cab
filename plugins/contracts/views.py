"""The pages of "Vos contrats": the list, a contract, its documents, the widget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request
from sqlalchemy import func, or_
from sqlalchemy.orm import contains_eager

from core.plugin_api import (
    PAGE_SIZES,
    Account,
    DocumentFile,
    Listing,
    db,
    get_scoped_or_404,
    page_rows,
    read_listing,
    record_activity,
    render,
    scoped,
    send_document,
    stored_key,
)

from .models import STATUSES, Contract, ContractDocument

ENDING_SOON_DAYS = 90
SORTS = {
    "number": Contract.number,
    "product": Contract.product,
    "client_code": Account.client_code,
    "status": Contract.status,
    "start": Contract.start_on,
    "end": Contract.end_on,
}
bp = Blueprint("contracts", __name__, template_folder="templates")


@dataclass
class Filters(Listing):
    status: str = ""

    def own_args(self) -> dict[str, str]:
        return {"status": self.status}


def _filters(args) -> Filters:
    f = Filters()
    read_listing(f, args, SORTS, "start", descending=True)
    if args.get("status") in STATUSES:
        f.status = args["status"]
    return f


@bp.get("/")
def index():
    """ "Vos contrats": searched, sorted, paged; the table alone for HTMX."""
    f = _filters(request.args)
    query = scoped(Contract)
    if f.q:
        query = query.where(
            or_(Contract.number.startswith(f.q), Contract.product.ilike(f"%{f.q}%"))
        )
    if f.status:
        query = query.where(Contract.status == f.status)
    column = SORTS[f.sort]
    order = (column.desc(), Contract.id.desc()) if f.descending else (column, Contract.id)
    joined = query.join(Contract.account).options(contains_eager(Contract.account))
    rows = page_rows(f, joined, order, count=query)
    return render(
        "contracts/list.html", "results", filters=f, contracts=rows, page_sizes=PAGE_SIZES
    )


@bp.get("/<int:contract_id>")
def detail(contract_id: int):
    """A contract with its documents; other apps add their links (invoices, consumption)."""
    contract = get_scoped_or_404(Contract, contract_id)
    return render_template("contracts/detail.html", contract=contract, today=date.today())


@bp.get("/<int:contract_id>/documents/<int:document_id>")
def document(contract_id: int, document_id: int):
    """One of the contract's documents, as the provider sent it."""
    contract = get_scoped_or_404(Contract, contract_id)
    found = db.session.get(ContractDocument, document_id)
    if found is None or found.contract_id != contract.id:
        abort(404)
    name = f"{contract.number} - {found.title}.pdf".replace("/", "-")
    record_activity("download.contract", name)
    stored = DocumentFile(stored_key(found.sha256), "application/pdf", name, found.sha256)
    return send_document(stored)


@bp.get("/widget")
def widget():
    """Dashboard widget: contracts by status, and those ending within 90 days."""
    today = date.today()
    counts = dict(
        db.session.execute(
            scoped(Contract)
            .with_only_columns(Contract.status, func.count())
            .group_by(Contract.status)
            .order_by(None)
        ).all()
    )
    ending = db.session.scalars(
        scoped(Contract)
        .where(Contract.status == "active")
        .where(Contract.end_on.between(today, today + timedelta(days=ENDING_SOON_DAYS)))
        .order_by(Contract.end_on, Contract.id)
        .limit(5)
    ).all()
    return render_template(
        "contracts/widget.html", counts=counts, ending=ending, days=ENDING_SOON_DAYS
    )
