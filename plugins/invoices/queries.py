"""The invoice list's filters, read from the URL: each bad value gets a message and is
set aside (or corrected) rather than failing the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager

from core.models import Account
from core.tenancy import Scope, scoped

from .importing import parse_amount, parse_date
from .models import Invoice

PAGE_SIZES = (10, 25, 50, 100)
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
STATUS_FILTERS = ("to_pay", "paid", "overdue")


@dataclass
class Filters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    ttc_min: int | None = None
    ttc_max: int | None = None
    number: str = ""
    sub_account: str = ""
    status: str = ""
    sort: str = "date"
    descending: bool = True
    page: int = 1
    size: int = 25
    messages: list[str] = field(default_factory=list)

    def args(self, **changes) -> dict[str, str]:
        """The URL arguments of these filters (for links), with ``changes`` applied."""
        values = {
            "q": self.q,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "ttc_min": f"{self.ttc_min / 100:.2f}" if self.ttc_min is not None else "",
            "ttc_max": f"{self.ttc_max / 100:.2f}" if self.ttc_max is not None else "",
            "number": self.number,
            "sub_account": self.sub_account,
            "status": self.status,
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "size": str(self.size),
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


def read_filters(args) -> Filters:
    f = Filters(
        q=args.get("q", "").strip()[:100],
        number=args.get("number", "").strip()[:32],
        sub_account=args.get("sub_account", "").strip()[:32],
    )
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
    sort = args.get("sort", "date")
    if sort in SORTS:
        f.sort = sort
    else:
        f.messages.append(_("Unknown sort column “%(value)s”; sorted by date.", value=sort))
    f.descending = args.get("dir", "desc") != "asc"
    size = args.get("size", "25")
    f.size = int(size) if size.isdigit() and int(size) in PAGE_SIZES else 25
    page = args.get("page", "1")
    f.page = int(page) if page.isdigit() and int(page) > 0 else 1
    return f


def history_start(today: date) -> date:
    """Invoices older than the configured history window are not shown."""
    return today - timedelta(days=current_app.config["INVOICES_HISTORY_DAYS"])


def filtered(f: Filters, today: date, scope: Scope | None = None) -> Select:
    """The scoped, filtered select of invoices (without order or paging)."""
    query = scoped(Invoice, scope).where(Invoice.issued_on >= history_start(today))
    if f.q:
        query = query.where(
            or_(Invoice.number.startswith(f.q), Invoice.subscriber.ilike(f"%{f.q}%"))
        )
    if f.number:
        query = query.where(Invoice.number.startswith(f.number))
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
    if f.status == "overdue":
        query = query.where(Invoice.status == "to_pay", Invoice.due_on < today)
    elif f.status == "to_pay":
        query = query.where(
            Invoice.status == "to_pay", or_(Invoice.due_on.is_(None), Invoice.due_on >= today)
        )
    elif f.status:
        query = query.where(Invoice.status == f.status)
    return query


def page_of(db, f: Filters, today: date):
    """The total count and the rows of the requested page (clamped to the last one)."""
    base = filtered(f, today)
    total = db.session.scalar(base.with_only_columns(func.count()).order_by(None))
    pages = max(1, -(-total // f.size))
    f.page = min(f.page, pages)
    column = SORTS[f.sort]
    order = column.desc() if f.descending else column.asc()
    tie = Invoice.id.desc() if f.descending else Invoice.id.asc()
    query = base.join(Account, Account.id == Invoice.account_id).options(
        contains_eager(Invoice.account)
    )
    rows = db.session.scalars(
        query.order_by(order, tie).limit(f.size).offset((f.page - 1) * f.size)
    ).all()
    return total, pages, rows
