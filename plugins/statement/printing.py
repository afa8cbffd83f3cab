"""The statement as PDF, drawn with reportlab's platypus (the engine under xhtml2pdf).

A statement is one long table. xhtml2pdf lays out every cell of an HTML table as a
paragraph, styled through its CSS cascade: 1,000 lines took 2.6 s. Platypus draws the
same table's text as it is, and wraps only a label too wide for its column: about a
tenth of that. The page is the one xhtml2pdf drew: A4, the embedded Vera font, the
movements' header on every page, the day and page number at the foot."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import date
from xml.sax.saxutils import escape

from flask_babel import get_locale
from reportlab.lib import colors
from reportlab.lib.fonts import tt2ps
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.plugin_api import embed_fonts, money, short_date
from core.plugin_api import gettext as _

from .reckoning import Movement, Statement

SIZE, LEADING = 8.5, 10.5  # points
PADDING = 3  # points, left and right of a cell
GREY, HEADER = colors.HexColor("#555555"), colors.HexColor("#eeeeee")
MARGINS = {"leftMargin": 1.4 * cm, "rightMargin": 1.4 * cm, "topMargin": 1.6 * cm}
COLUMNS = (0.52, 0.16, 0.16, 0.16)  # movement, debit, credit, balance


def text(value: object) -> str:
    """``value`` as the font can draw it: it has no narrow no-break space, which French
    amounts and dates hold, so a no-break space stands in."""
    return str(value).replace("\u202f", "\xa0")


class _Styles:
    def __init__(self) -> None:
        self.font = embed_fonts()
        self.bold = tt2ps(self.font, 1, 0)
        body = ParagraphStyle("body", fontName=self.font, fontSize=SIZE, leading=LEADING)
        self.body = body
        self.title = ParagraphStyle(
            "title", body, fontName=self.bold, fontSize=15, leading=18, spaceAfter=6
        )
        self.heading = ParagraphStyle(
            "heading", body, fontName=self.bold, fontSize=10.5, leading=13, spaceBefore=10
        )

    def table(self, rows: list[list], widths: list[float], **options) -> Table:
        """A table of text in the body's font, amounts (every column but the first)
        aligned right."""
        table = Table(rows, colWidths=widths, **options)
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), self.font, SIZE, LEADING),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
                    ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            )
        )
        return table

    def heading_block(self, title: str) -> list:
        return [
            Paragraph(escape(title), self.heading),
            HRFlowable(width="100%", thickness=0.5, color=colors.HexColor("#888888")),
            Spacer(1, 3),
        ]


def statement_pdf(
    statement: Statement,
    lines: Iterable[tuple[Movement, int]],
    *,
    issuer: Mapping[str, str],
    kinds: Mapping[str, str],
    buckets: Mapping[str, str],
    today: date,
) -> bytes:
    """The PDF of ``statement``: its balances and ageing, then each of ``lines`` (a
    movement and the balance after it) between the opening and closing balances."""
    styles = _Styles()
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        bottomMargin=1.8 * cm,
        title=_("Statement of account"),
        author=issuer.get("name", ""),
        lang=str(get_locale() or ""),
        **MARGINS,
    )
    cur = statement.currency
    width = document.width
    period = _(
        "From %(start)s to %(end)s",
        start=short_date(statement.start),
        end=short_date(statement.end),
    )
    story = [
        Paragraph(escape(_("Statement of account")), styles.title),
        Paragraph(
            f"<b>{escape(issuer.get('name', 'Guichet'))}</b> · {escape(text(period))} · {cur}",
            styles.body,
        ),
        Spacer(1, 6),
        _summary(statement, styles, buckets, width),
        *styles.heading_block(_("Movements")),
        _movements(statement, lines, styles, kinds, width),
    ]
    footer = text(_("Statement of %(day)s", day=short_date(today))) + " · " + _("page")

    def foot(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(styles.font, 7)
        canvas.setFillColor(GREY)
        canvas.drawCentredString(A4[0] / 2, 1.0 * cm, f"{footer} {doc.page}")
        canvas.restoreState()

    frame = Frame(
        document.leftMargin,
        document.bottomMargin,
        width,
        document.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    document.addPageTemplates([PageTemplate("page", [frame], onPage=foot)])
    document.build(story)
    return buffer.getvalue()


def _summary(statement: Statement, styles: _Styles, buckets: Mapping[str, str], width: float):
    """The balances and the ageing of what is open, side by side."""
    cur = statement.currency
    half = width / 2 - PADDING
    balances = [
        [_("Opening balance"), money(statement.opening, cur)],
        [_("Invoices"), money(statement.invoiced, cur)],
        [_("Credit notes"), money(statement.credited, cur)],
        [_("Payments"), money(statement.paid, cur)],
        [_("Closing balance"), money(statement.closing, cur)],
    ]
    ageing = [[label, money(statement.ageing[key], cur)] for key, label in buckets.items()]
    ageing.append([_("Total open"), money(statement.open_total, cur)])
    strong = [len(ageing) - 1]
    if statement.unapplied:
        ageing.append([_("Credits not set against an invoice"), money(statement.unapplied, cur)])

    def block(title: str, rows: list[list[str]], bold_rows: list[int]) -> list:
        table = styles.table([[text(c) for c in row] for row in rows], [half * 0.6, half * 0.4])
        table.setStyle([("FONT", (0, r), (-1, r), styles.bold, SIZE, LEADING) for r in bold_rows])
        return [*styles.heading_block(title), table]

    opened = _("Open on %(day)s", day=short_date(statement.end))
    both = Table(
        [[block(_("Balance"), balances, [4]), block(text(opened), ageing, strong)]],
        colWidths=[width / 2, width / 2],
    )
    both.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (0, 0), 2 * PADDING),
            ("LEFTPADDING", (1, 0), (1, 0), 2 * PADDING),
            ("RIGHTPADDING", (1, 0), (1, 0), 0),
        ]
    )
    return both


def _movements(statement, lines, styles: _Styles, kinds: Mapping[str, str], width: float):
    """The movements' table: a line each, with the balance after it, between the
    opening and closing balances; its header repeated on every page."""
    cur = statement.currency
    widths = [width * share for share in COLUMNS]
    room = widths[0] - 2 * PADDING

    def label(value: str):
        # wrapped only when too wide: a Paragraph costs ten times a line of text
        if stringWidth(value, styles.font, SIZE) <= room:
            return value
        return Paragraph(escape(value), styles.body)

    rows = [[_("Movement"), _("Debit"), _("Credit"), _("Balance")]]
    rows.append(
        [
            text(f"{short_date(statement.start)} · {_('Opening balance')}"),
            "",
            "",
            text(money(statement.opening, cur)),
        ]
    )
    for move, balance in lines:
        words = f"{short_date(move.day)} · {kinds[move.kind]} {move.number}"
        if move.due_on:
            words += " · " + _("due %(day)s", day=short_date(move.due_on))
        amount = text(money(abs(move.amount), cur))
        debit, credit = (amount, "") if move.amount >= 0 else ("", amount)
        rows.append([label(text(words)), debit, credit, text(money(balance, cur))])
    closing = text(f"{short_date(statement.end)} · {_('Closing balance')}")
    rows.append([closing, "", "", text(money(statement.closing, cur))])
    table = styles.table(rows, widths, repeatRows=1)
    table.setStyle(
        [
            ("FONT", (0, 0), (-1, 0), styles.bold, SIZE, LEADING),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER),
            ("TOPPADDING", (0, 0), (-1, 0), 2),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 2),
            ("FONT", (0, -1), (-1, -1), styles.bold, SIZE, LEADING),
        ]
    )
    return table
