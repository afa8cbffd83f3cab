"""The statement of account: on screen (the period's movements a page at a time, with
the running balance), as CSV and as PDF, and the dashboard widget "À payer"."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import format_decimal

from core.plugin_api import (
    csv_response,
    csv_text,
    current_scope,
    record_activity,
    render,
    requested_dialect,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l

from . import reckoning
from .printing import statement_pdf
from .reckoning import Statement

bp = Blueprint("statement", __name__, template_folder="templates")
PAGE_SIZE = 50
KIND_LABELS = {"invoice": _l("Invoice"), "credit_note": _l("Credit note"), "payment": _l("Payment")}
BUCKET_LABELS = {
    "not_due": _l("Not due yet"),
    "1_30": _l("1 to 30 days late"),
    "31_60": _l("31 to 60 days late"),
    "61_90": _l("61 to 90 days late"),
    "over_90": _l("More than 90 days late"),
}
CSV_COLUMNS = (
    ("date", _l("Date")),
    ("kind", _l("Kind")),
    ("number", _l("Number")),
    ("due_date", _l("Due date")),
    ("debit", _l("Debit")),
    ("credit", _l("Credit")),
    ("balance", _l("Balance")),
)


@dataclass
class Period:
    """The statement's period and currency as the request asks them, with what was
    wrong in it (the default stands in for a value that is)."""

    start: date
    end: date
    currency: str
    currencies: list[str]
    messages: list[str] = field(default_factory=list)

    def args(self, **changes) -> dict[str, str]:
        args = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if len(self.currencies) > 1:
            args["currency"] = self.currency
        return {**args, **{k: str(v) for k, v in changes.items()}}


def default_start(today: date) -> date:
    """The first day of the month two months back: a quarter, this month included."""
    month = today.month - 2
    return date(today.year - (month < 1), (month - 1) % 12 + 1, 1)


def read_period(args) -> Period:
    scope = current_scope()
    today = date.today()
    found = reckoning.currencies(scope)
    period = Period(default_start(today), today, found[0], found)
    for name, attribute in (("from", "start"), ("to", "end")):
        text = args.get(name, "")
        if text:
            try:
                setattr(period, attribute, date.fromisoformat(text))
            except ValueError:
                period.messages.append(
                    _("%(value)s is not a date (YYYY-MM-DD); it was ignored.", value=text)
                )
    if period.start > period.end:
        period.messages.append(_("The period ended before it started; the dates were swapped."))
        period.start, period.end = period.end, period.start
    currency = args.get("currency", "")
    if currency in found:
        period.currency = currency
    elif currency:
        period.messages.append(_("No invoice is in %(currency)s.", currency=currency[:3]))
    return period


def _streams(period: Period) -> reckoning.Streams:
    return reckoning.Streams(current_scope(), period.currency, period.start, period.end)


def _statement(period: Period, streams: reckoning.Streams) -> Statement:
    alone = period.currencies == [period.currency]
    return reckoning.statement(streams, current_scope(), period.currency, alone)


@dataclass
class Page:
    """The movements shown, where they stand in the statement, and the balance after
    each: the page after ``after`` or before ``before`` (keys in the URL), the last
    with ``last=1``, else the first."""

    lines: list[tuple[reckoning.Movement, int]]
    first: int  # the position of the first line, from 1
    total: int
    more: bool = False  # the count is exact (for the list_head macro)

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1

    @property
    def has_previous(self) -> bool:
        return self.first > 1

    @property
    def has_next(self) -> bool:
        return self.last < self.total


def read_page(args, streams: reckoning.Streams, result: Statement, period: Period) -> Page:
    after = reckoning.Key.parse(args.get("after", ""))
    before = reckoning.Key.parse(args.get("before", ""))
    if args.get("last"):
        moves = streams.page(None, PAGE_SIZE, forward=False)
    elif before is not None:
        moves = streams.page(before, PAGE_SIZE, forward=False)
    else:
        if args.get("after") and after is None:
            period.messages.append(
                _("This page of the statement does not exist; here is its start.")
            )
        moves = streams.page(after, PAGE_SIZE)
    first_page = not (args.get("last") or before or after)
    count, balance = (0, 0) if first_page or not moves else streams.before(moves[0].key, result)
    balance += result.opening
    lines = []
    for move in moves:
        balance += move.amount
        lines.append((move, balance))
    return Page(lines, count + 1, result.count)


@bp.get("/")
def index():
    """The statement of the period: balances, totals, ageing, and a page of movements
    with the balance after each."""
    period = read_period(request.args)
    streams = _streams(period)
    result = _statement(period, streams)
    page = read_page(request.args, streams, result, period)
    return render(
        "statement/index.html",
        "results",
        period=period,
        statement=result,
        page=page,
        kinds=KIND_LABELS,
        buckets=BUCKET_LABELS,
        pdf_cap=current_app.config["STATEMENT_PDF_LINES"],
    )


def _each_line(result: Statement, streams: reckoning.Streams):
    """Every movement in order, with the balance after it."""
    balance = result.opening
    for move in streams.every():
        balance += move.amount
        yield move, balance


@bp.get("/export.csv")
def export_csv():
    """The statement as CSV: the opening balance, every movement, the closing balance."""
    dialect = requested_dialect()
    period = read_period(request.args)
    streams = _streams(period)
    result = _statement(period, streams)
    kinds = {kind: dialect.label(kind, KIND_LABELS) for kind in KIND_LABELS}

    def amounts(amount: int) -> list[str]:
        debit, credit = (amount, 0) if amount >= 0 else (0, -amount)
        return [dialect.amount(debit) if debit else "", dialect.amount(credit) if credit else ""]

    def rows():
        opening = _("Opening balance") if dialect.for_people else "opening"
        yield [dialect.day(period.start), opening, "", "", "", "", dialect.amount(result.opening)]
        for row, balance in _each_line(result, streams):
            yield [
                dialect.day(row.day),
                kinds[row.kind],
                row.number,
                dialect.day(row.due_on),
                *amounts(row.amount),
                dialect.amount(balance),
            ]
        closing = _("Closing balance") if dialect.for_people else "closing"
        yield [dialect.day(period.end), closing, "", "", "", "", dialect.amount(result.closing)]

    body = csv_text(dialect.header(CSV_COLUMNS), rows(), dialect, text_columns=(2,))
    name = f"releve-{period.start.isoformat()}-{period.end.isoformat()}"
    record_activity("download.statement", f"{name}.csv")
    return csv_response(body, name)


@bp.get("/releve.pdf")
def pdf():
    """The statement as PDF, up to ``STATEMENT_PDF_LINES`` movements (a longer one is
    refused with the number: narrow the period or take the CSV)."""
    period = read_period(request.args)
    streams = _streams(period)
    result = _statement(period, streams)
    cap = current_app.config["STATEMENT_PDF_LINES"]
    if result.count > cap:
        abort(
            422,
            _(
                "This period has %(count)s movements; a PDF holds %(cap)s at most. Choose a"
                " shorter period, or download the CSV.",
                count=format_decimal(result.count),
                cap=format_decimal(cap),
            ),
        )
    data = statement_pdf(
        result,
        _each_line(result, streams),
        issuer=current_app.config["ISSUER"],
        kinds=KIND_LABELS,
        buckets=BUCKET_LABELS,
        today=date.today(),
    )
    name = f"releve-{period.start.isoformat()}-{period.end.isoformat()}.pdf"
    record_activity("download.statement", name)
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name
    )


@bp.get("/widget")
def widget():
    """Dashboard widget "À payer": what is due, and of it what is overdue, per currency."""
    return render_template(
        "statement/widget.html", to_pay=reckoning.to_pay(current_scope(), date.today())
    )
