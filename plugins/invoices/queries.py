"""The invoice list's filters, read from the URL: each bad value gets a message and is
set aside (or corrected) rather than failing the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import contains_eager

from core.plugin_api import (
    COUNT_LIMIT,
    Account,
    Listing,
    Scope,
    apply_added,
    current_scope,
    db,
    page_rows,
    parse_amount,
    parse_date,
    read_added,
    read_listing,
    scoped,
    starts_with,
)
from core.plugin_api import gettext as _

from .models import Invoice
from .subscribers import subscriber_contains

SORTS = {
    "type": Invoice.kind,
    "date": Invoice.issued_on,
    "number": Invoice.number,
    "ht": Invoice.total_ht,
    "ttc": Invoice.total_ttc,
    "subscriber": Invoice.subscriber,
    "client_code": Account.client_code,
    "status": Invoice.status,
}
STATUS_FILTERS = ("to_pay", "paid", "overdue", "cancelled")
#: The name other apps add filters to this list under (``guichet_list_filters``).
LIST_KEY = "invoices"


@dataclass
class Filters(Listing):
    count_limit = COUNT_LIMIT  # one organisation may hold millions of invoices
    date_from: date | None = None
    date_to: date | None = None
    ttc_min: int | None = None
    ttc_max: int | None = None
    number: str = ""
    sub_account: str = ""
    client_code: str = ""
    contract: str = ""
    status: str = ""

    def own_args(self) -> dict[str, str]:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "ttc_min": f"{self.ttc_min / 100:.2f}" if self.ttc_min is not None else "",
            "ttc_max": f"{self.ttc_max / 100:.2f}" if self.ttc_max is not None else "",
            "number": self.number,
            "sub_account": self.sub_account,
            "client_code": self.client_code,
            "contract": self.contract,
            "status": self.status,
        }


def read_filters(args) -> Filters:
    f = Filters(
        number=args.get("number", "").strip()[:32],
        sub_account=args.get("sub_account", "").strip()[:32],
        client_code=args.get("client_code", "").strip()[:32],
        contract=args.get("contract", "").strip()[:100],
    )
    read_listing(f, args, SORTS, "date", descending=True)
    read_added(f, args, LIST_KEY)
    for name, parser, label in (
        ("date_from", parse_date, _("start date")),
        ("date_to", parse_date, _("end date")),
        ("ttc_min", parse_amount, _("minimum amount")),
        ("ttc_max", parse_amount, _("maximum amount")),
    ):
        raw = args.get(name, "").strip()
        if raw:
            try:
                setattr(f, name, parser(raw))
            except ValueError:
                f.messages.append(
                    _(
                        "The %(what)s “%(value)s” is not valid; it was ignored.",
                        what=label,
                        value=raw,
                    )
                )
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.date_from, f.date_to = f.date_to, f.date_from
        f.messages.append(_("The dates were reversed; they have been swapped."))
    if f.ttc_min is not None and f.ttc_max is not None and f.ttc_min > f.ttc_max:
        f.ttc_min, f.ttc_max = f.ttc_max, f.ttc_min
        f.messages.append(_("The amounts were reversed; they have been swapped."))
    status = args.get("status", "")
    if status in STATUS_FILTERS:
        f.status = status
    elif status:
        f.messages.append(_("Unknown status “%(value)s”; it was ignored.", value=status))
    return f


def history_start(today: date) -> date:
    """Invoices older than the configured history window are not shown."""
    return today - timedelta(days=current_app.config["INVOICES_HISTORY_DAYS"])


def filtered(f: Filters, today: date, scope: Scope | None = None) -> Select:
    """The scoped, filtered select of invoices (without order or paging)."""
    query = scoped(Invoice, scope).where(Invoice.issued_on >= history_start(today))
    if f.q:
        words = subscriber_contains(scope or current_scope(), f.q)
        query = query.where(or_(starts_with(Invoice.number, f.q), words))
    if f.number:
        query = query.where(starts_with(Invoice.number, f.number))
    if f.date_from:
        query = query.where(Invoice.issued_on >= f.date_from)
    if f.date_to:
        query = query.where(Invoice.issued_on <= f.date_to)
    if f.ttc_min is not None:
        query = query.where(Invoice.total_ttc >= f.ttc_min)
    if f.ttc_max is not None:
        query = query.where(Invoice.total_ttc <= f.ttc_max)
    if f.sub_account:
        sub = select(Account.id).where(Account.client_code == f.sub_account)
        query = query.where(Invoice.sub_account_id.in_(sub))
    if f.client_code:
        main = select(Account.id).where(Account.client_code == f.client_code)
        query = query.where(Invoice.account_id.in_(main))
    if f.contract:
        query = query.where(
            or_(Invoice.local_contract == f.contract, Invoice.framework_contract == f.contract)
        )
    due = Invoice.total_ttc + Invoice.credited > 0  # not cancelled by credit notes
    if f.status == "overdue":
        query = query.where(Invoice.status == "to_pay", Invoice.due_on < today, due)
    elif f.status == "to_pay":
        query = query.where(
            Invoice.status == "to_pay", or_(Invoice.due_on.is_(None), Invoice.due_on >= today), due
        )
    elif f.status == "cancelled":
        query = query.where(Invoice.status == "to_pay", Invoice.kind == "invoice", ~due)
    elif f.status:
        query = query.where(Invoice.status == f.status)
    return apply_added(f, query)


def page_of(f: Filters, today: date) -> list[Invoice]:
    """The rows of the requested page, with their accounts; sets the total and pages."""
    base = filtered(f, today)
    column = SORTS[f.sort]
    order = column.desc() if f.descending else column.asc()
    tie = Invoice.id.desc() if f.descending else Invoice.id.asc()
    with_accounts = select(Invoice).join(Account, Account.id == Invoice.account_id)
    with_accounts = with_accounts.options(contains_eager(Invoice.account))

    def load(ids: list[int]) -> list[Invoice]:
        return db.session.scalars(with_accounts.where(Invoice.id.in_(ids))).all()

    query = base.join(Account, Account.id == Invoice.account_id).options(
        contains_eager(Invoice.account)
    )
    return page_rows(f, query, (order, tie), count=base, load=load)
