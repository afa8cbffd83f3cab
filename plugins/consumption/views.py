"""The pages of a consumption app: the view (chart and table), the records behind a
figure, the CSV export of the view, and the dashboard widget. Every consumption app
gets its own blueprint with these routes (see :func:`blueprint_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from core.plugin_api import (
    COUNT_LIMIT,
    Account,
    Listing,
    csv_response,
    csv_text,
    db,
    page_rows,
    read_listing,
    record_activity,
    render,
    requested_dialect,
    scoped,
)
from core.plugin_api import lazy_gettext as _l

from . import queries
from .apps import MAIN
from .chart import monthly_chart, sparkline
from .models import ConsumptionRecord, MonthlyTotal
from .queries import GROUP_LABELS


def blueprint_for(app) -> Blueprint:
    """A blueprint named after ``app`` (a :class:`ConsumptionApp`) with its pages."""
    bp = Blueprint(app.key, __name__, template_folder="templates")
    bp.add_url_rule("/", "index", lambda: index(app))
    bp.add_url_rule("/releves", "records", lambda: records(app))
    bp.add_url_rule("/export.csv", "export_csv", lambda: export_csv(app))
    bp.add_url_rule("/widget", "widget", lambda: widget(app))
    return bp


def _view(app) -> tuple[queries.View, list[str], list[str]]:
    products, codes = queries.choices(app.families)
    return queries.read_view(request.args, date.today(), products, codes), products, codes


def index(app):
    """The chart and the table of the chosen period; the results alone for HTMX."""
    view, products, codes = _view(app)
    amounts, previous, lines = queries.series(view, app.families)
    rows = queries.table(view, app.families)
    return render(
        "consumption/index.html",
        "results",
        app=app,
        view=view,
        rows=rows,
        total=sum(r.amount for r in rows),
        previous_total=sum(r.previous or 0 for r in rows) if view.compare else None,
        chart=monthly_chart(view.months, amounts, previous, lines),
        products=products,
        codes=codes,
        periods=queries.PERIODS,
        groups=queries.GROUPS,
    )


@dataclass
class RecordFilters(Listing):
    count_limit = COUNT_LIMIT  # an organisation may hold millions of records
    start: str = ""  # months, 2026-10
    end: str = ""
    product: str = ""
    account: str = ""
    contract: str = ""  # "—": records without a contract

    def own_args(self) -> dict[str, str]:
        return {
            "from": self.start,
            "to": self.end,
            "product": self.product,
            "account": self.account,
            "contract": self.contract,
        }


RECORD_SORTS = {
    "period": ConsumptionRecord.period_start,
    "amount": ConsumptionRecord.amount_ht,
    "product": ConsumptionRecord.product,
}


def records(app):
    """The records behind a figure: of a month, a product, an account or a contract."""
    filters = RecordFilters(
        product=request.args.get("product", "").strip()[:200],
        account=request.args.get("account", "").strip()[:32],
        contract=request.args.get("contract", "").strip()[:100],
    )
    read_listing(filters, request.args, RECORD_SORTS, "period", descending=True)
    query = scoped(ConsumptionRecord)
    if app.families:
        query = query.where(ConsumptionRecord.family.in_(app.families))
    months = []
    for name in ("from", "to"):
        raw = request.args.get(name, "").strip()
        try:
            months.append(queries.parse_period(raw)[0].replace(day=1) if raw else None)
        except ValueError:
            filters.messages.append(queries.invalid_month(raw))
            months.append(None)
    first, last = months
    if first and last and last < first:
        first, last = last, first
    if first:
        filters.start = first.strftime("%Y-%m")
        query = query.where(ConsumptionRecord.month >= first)
    if last:
        filters.end = last.strftime("%Y-%m")
        query = query.where(ConsumptionRecord.month <= last)
    if filters.product:
        query = query.where(ConsumptionRecord.product == filters.product)
    if filters.contract:
        contract = "" if filters.contract == "—" else filters.contract
        query = query.where(ConsumptionRecord.contract == contract)
    if filters.account:
        query = query.where(
            ConsumptionRecord.account_id.in_(
                select(Account.id).where(Account.client_code == filters.account)
            )
        )
    column = RECORD_SORTS[filters.sort]
    order = column.desc() if filters.descending else column.asc()
    tie = ConsumptionRecord.id.desc() if filters.descending else ConsumptionRecord.id.asc()
    rows = page_rows(filters, query, (order, tie))
    codes = dict(
        db.session.execute(
            select(Account.id, Account.client_code).where(
                Account.id.in_({r.account_id for r in rows})
            )
        ).all()
    )
    return render(
        "consumption/records.html",
        "results",
        app=app,
        filters=filters,
        records=rows,
        codes=codes,
    )


def export_csv(app):
    """The table of the current view as CSV, in the French or the standard dialect."""
    dialect = requested_dialect()
    view, _products, _codes = _view(app)
    rows = queries.table(view, app.families)
    columns = [
        (view.group, GROUP_LABELS[view.group]),
        ("quantity", _l("Quantity")),
        ("unit", _l("Unit")),
        ("amount_ht", _l("Amount excl. VAT")),
    ]
    if view.compare:
        columns += [
            ("amount_ht_last_year", _l("Last year")),
            ("change_percent", _l("Year-over-year change (%)")),
        ]
    header = dialect.header(columns)

    def values():
        for row in rows:
            key = dialect.day(row.key) if view.group == "month" else row.label
            line = [
                key,
                dialect.decimal_number(row.quantity) if row.quantity is not None else "",
                row.unit,
                dialect.amount(row.amount),
            ]
            if view.compare:
                change = (
                    "" if row.change is None else f"{row.change:.1f}".replace(".", dialect.decimal)
                )
                line += [dialect.amount(row.previous or 0), change]
            yield line

    name = "consommations" if app.key == MAIN["key"] else f"consommations-{app.key}"
    record_activity("download.consumption", f"{name}.csv")
    return csv_response(csv_text(header, values(), dialect), name)


def widget(app):
    """This month so far against last month, and the last 12 months as a sparkline."""
    this_month = date.today().replace(day=1)
    first = queries.add_months(this_month, -11)
    sums = dict(
        db.session.execute(
            queries.totals(app.families)
            .where(MonthlyTotal.month >= first)
            .with_only_columns(MonthlyTotal.month, func.sum(MonthlyTotal.amount_ht))
            .group_by(MonthlyTotal.month)
        ).all()
    )
    months = queries.months_between(first, this_month)
    values = [int(sums.get(m, 0)) for m in months]
    return render_template(
        "consumption/widget.html",
        app=app,
        current=values[-1],
        last=values[-2],
        points=sparkline(values),
        months=months,
        values=values,
    )
