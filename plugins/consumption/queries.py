"""What a consumption page shows, read from the URL (period, grouping, filters,
comparison), and the queries on the monthly totals. A bad value gets a message and is
set aside or corrected; it never fails the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import Select, func, select

from core.plugin_api import (
    Account,
    db,
    scoped,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l

from .models import MonthlyTotal
from .schema import parse_period

PERIODS = ("12m", "this_month", "last_month", "quarter", "year", "custom")
GROUPS = ("month", "product", "account", "contract")
GROUP_LABELS = {
    "month": _l("Month"),
    "product": _l("Product"),
    "account": _l("Account"),
    "contract": _l("Contract"),
}
TOP_LINES = 5  # lines of their own on the chart; the others are summed in one


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month`` (before if negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    count = (last.year - first.year) * 12 + last.month - first.month
    return [add_months(first, n) for n in range(count + 1)]


@dataclass
class View:
    """The choices of a consumption page; every one of them lives in the URL."""

    period: str = "12m"
    first: date = date.min  # first month shown
    last: date = date.min  # last month shown
    group: str = "month"
    product: str = ""
    account: str = ""  # a client code
    compare: bool = False
    messages: list[str] = field(default_factory=list)

    def args(self, **changes) -> dict[str, str]:
        values = {
            "period": self.period,
            "from": self.first.strftime("%Y-%m") if self.period == "custom" else "",
            "to": self.last.strftime("%Y-%m") if self.period == "custom" else "",
            "group": self.group,
            "product": self.product,
            "account": self.account,
            "compare": "1" if self.compare else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def drill(self, row: Row) -> dict[str, str]:
        """The records page's arguments for the records behind ``row``."""
        args = {
            "product": self.product,
            "account": self.account,
            "from": f"{self.first:%Y-%m}",
            "to": f"{self.last:%Y-%m}",
        }
        if self.group == "month":
            args["from"] = args["to"] = row.key.strftime("%Y-%m")
        elif self.group == "product":
            args["product"] = row.label
        elif self.group == "account":
            args["account"] = row.label
        else:
            args["contract"] = row.key or "—"
        return {k: v for k, v in args.items() if v}

    @property
    def months(self) -> list[date]:
        return months_between(self.first, self.last)


def invalid_month(raw: str) -> str:
    return _("“%(value)s” is not a valid month (2026-10); it was ignored.", value=raw)


def _month_arg(raw: str, messages: list[str]) -> date | None:
    try:
        return parse_period(raw)[0].replace(day=1)
    except ValueError:
        messages.append(invalid_month(raw))
        return None


def read_view(args, today: date, products: list[str], codes: list[str]) -> View:
    """The view asked by ``args``; ``products`` and ``codes`` are those that exist."""
    view = View(messages=[])
    this_month = today.replace(day=1)
    period = args.get("period", "12m")
    if period not in PERIODS:
        view.messages.append(
            _("Unknown period “%(value)s”; the last 12 months are shown.", value=period)
        )
        period = "12m"
    view.period = period
    if period == "custom":
        first = _month_arg(args.get("from", ""), view.messages)
        last = _month_arg(args.get("to", ""), view.messages)
        if first is None or last is None:
            view.period, period = "12m", "12m"
        else:
            if last < first:
                first, last = last, first
                view.messages.append(_("The end came before the start; they have been swapped."))
            view.last = min(last, this_month)  # nothing is consumed in the future
            view.first = min(first, view.last)
    if period == "12m":
        view.first, view.last = add_months(this_month, -11), this_month
    elif period == "this_month":
        view.first = view.last = this_month
    elif period == "last_month":
        view.first = view.last = add_months(this_month, -1)
    elif period == "quarter":
        view.first = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        view.last = this_month
    elif period == "year":
        view.first, view.last = date(today.year, 1, 1), this_month
    oldest = add_months(this_month, 1 - current_app.config["CONSUMPTION_HISTORY_MONTHS"])
    if view.first < oldest:
        view.messages.append(
            _(
                "Consumption is kept for %(count)d months: the view starts in %(month)s.",
                count=current_app.config["CONSUMPTION_HISTORY_MONTHS"],
                month=oldest.strftime("%m/%Y"),
            )
        )
        view.first = oldest
        view.last = max(view.last, oldest)
    group = args.get("group", "month")
    if group in GROUPS:
        view.group = group
    else:
        view.messages.append(_("Unknown grouping “%(value)s”; grouped by month.", value=group))
    product = args.get("product", "").strip()
    if product and product not in products:
        view.messages.append(_("Unknown product “%(value)s”; it was ignored.", value=product))
    elif product:
        view.product = product
    account = args.get("account", "").strip()
    if account and account not in codes:
        view.messages.append(_("Unknown account “%(value)s”; it was ignored.", value=account))
    elif account:
        view.account = account
    view.compare = args.get("compare") == "1"
    return view


def totals(families: tuple[str, ...]) -> Select:
    """The scoped monthly totals of an app (its product families; all when empty)."""
    query = scoped(MonthlyTotal)
    if families:
        query = query.where(MonthlyTotal.family.in_(families))
    return query


def choices(families: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The products and the client codes of the totals in scope (for the filters)."""
    base = totals(families)
    products = db.session.scalars(
        base.with_only_columns(MonthlyTotal.product).distinct().order_by(MonthlyTotal.product)
    ).all()
    codes = db.session.scalars(
        select(Account.client_code)
        .where(Account.id.in_(base.with_only_columns(MonthlyTotal.account_id).distinct()))
        .order_by(Account.client_code)
    ).all()
    return list(products), list(codes)


def _filtered(view: View, families: tuple[str, ...], shift: int = 0) -> Select:
    query = totals(families).where(
        MonthlyTotal.month.between(add_months(view.first, shift), add_months(view.last, shift))
    )
    if view.product:
        query = query.where(MonthlyTotal.product == view.product)
    if view.account:
        query = query.where(
            MonthlyTotal.account_id.in_(
                select(Account.id).where(Account.client_code == view.account)
            )
        )
    return query


@dataclass
class Row:
    key: object  # a month, a product, a client code or a contract
    label: str
    amount: int
    quantity: object = None  # with a unit, when grouped by product
    unit: str = ""
    previous: int | None = None  # the same period a year before

    @property
    def change(self) -> float | None:
        if not self.previous:
            return None
        return (self.amount - self.previous) / abs(self.previous) * 100


def _grouped(view: View, families: tuple[str, ...], shift: int) -> dict:
    amount, quantity = func.sum(MonthlyTotal.amount_ht), func.sum(MonthlyTotal.quantity)
    query = _filtered(view, families, shift)
    if view.group == "month":
        query = query.with_only_columns(MonthlyTotal.month, amount).group_by(MonthlyTotal.month)
        return {
            add_months(month, -shift): (total, None, "")
            for month, total in db.session.execute(query)
        }
    if view.group == "product":
        query = query.with_only_columns(MonthlyTotal.product, MonthlyTotal.unit, amount, quantity)
        query = query.group_by(MonthlyTotal.product, MonthlyTotal.unit)
        return {(p, u): (total, q, u) for p, u, total, q in db.session.execute(query)}
    if view.group == "account":
        query = query.join(Account, Account.id == MonthlyTotal.account_id)
        query = query.with_only_columns(Account.client_code, amount).group_by(Account.client_code)
        return {code: (total, None, "") for code, total in db.session.execute(query)}
    query = query.with_only_columns(MonthlyTotal.contract, amount).group_by(MonthlyTotal.contract)
    return {contract: (total, None, "") for contract, total in db.session.execute(query)}


def table(view: View, families: tuple[str, ...]) -> list[Row]:
    """The rows of the table (and of the CSV export), with last year's figures when the
    view compares."""
    current = _grouped(view, families, 0)
    previous = _grouped(view, families, -12) if view.compare else {}
    if view.group == "month":
        keys = view.months
    else:
        keys = sorted(current, key=lambda k: -current[k][0])
        keys += [k for k in previous if k not in current]
    rows = []
    for key in keys:
        amount, quantity, unit = current.get(key, (0, None, ""))
        label = (
            key.strftime("%m/%Y")
            if view.group == "month"
            else (key[0] if view.group == "product" else (key or "—"))
        )
        rows.append(
            Row(
                key,
                label,
                int(amount or 0),
                quantity,
                unit,
                int(previous[key][0]) if key in previous else (0 if view.compare else None),
            )
        )
    return rows


def series(view: View, families: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """For the chart: the amount per month, last year's per month (when comparing), and
    a line per group of the view (product, account or contract; none by month): the
    :data:`TOP_LINES` largest, the rest summed in one more line, so that the legend
    accounts for every group of the table."""
    amount = func.sum(MonthlyTotal.amount_ht)
    key = _group_key(view)
    query = _filtered(view, families)
    if view.group == "account":
        query = query.join(Account, Account.id == MonthlyTotal.account_id)
    rows = db.session.execute(
        query.with_only_columns(MonthlyTotal.month, key, amount).group_by(MonthlyTotal.month, key)
    ).all()
    by_month: dict[date, int] = {}
    by_group: dict[str, dict[date, int]] = {}
    for month, group, total in rows:
        by_month[month] = by_month.get(month, 0) + int(total)
        line = by_group.setdefault(group or "—", {})
        line[month] = line.get(month, 0) + int(total)
    previous = {}
    if view.compare:
        query = _filtered(view, families, -12).with_only_columns(MonthlyTotal.month, amount)
        previous = {
            add_months(month, 12): int(total)
            for month, total in db.session.execute(query.group_by(MonthlyTotal.month))
        }
    if view.group == "month":
        return by_month, previous, {}
    ranked = sorted(by_group, key=lambda g: -sum(by_group[g].values()))
    lines = {g: by_group[g] for g in ranked[:TOP_LINES]}
    if len(ranked) > TOP_LINES + 1:
        others: dict[date, int] = {}
        for group in ranked[TOP_LINES:]:
            for month, total in by_group[group].items():
                others[month] = others.get(month, 0) + total
        lines[_("Others (%(count)d)", count=len(ranked) - TOP_LINES)] = others
    elif len(ranked) == TOP_LINES + 1:
        lines[ranked[-1]] = by_group[ranked[-1]]
    return by_month, previous, lines


def _group_key(view: View):
    if view.group == "account":
        return Account.client_code
    if view.group == "contract":
        return MonthlyTotal.contract
    return MonthlyTotal.product
