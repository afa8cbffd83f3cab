"""One consumption record as the import API and the CSV import take it: the model
gives the OpenAPI schema and every fault of a batch, by row and field."""

import re
from datetime import date
from typing import Any

from core.plugin_api import (
    ImportItem,
    client_code_field,
    currency_field,
    decimal_parser,
    parse_amount,
    parse_date,
    parsed_field,
    text_field,
)

MONTH = re.compile(r"^(\d{4})-(\d{2})$|^(\d{2})/(\d{4})$")


def parse_period(value: Any) -> tuple[date, str]:
    """``2026-10`` or ``10/2026`` → a month; ``2026-10-15`` or ``15/10/2026`` → a day."""
    text = str(value or "").strip()
    match = MONTH.match(text)
    if match:
        year, month = (match[1], match[2]) if match[1] else (match[4], match[3])
        if not 1 <= int(month) <= 12:
            raise ValueError(f"{value!r} is not a month (2026-10 or 10/2026)")
        return date(int(year), int(month), 1), "month"
    try:
        return parse_date(text), "day"
    except ValueError:
        raise ValueError(
            f"{value!r} is not a period: a month (2026-10) or a day (2026-10-15)"
        ) from None


AMOUNT = {"type": ["string", "number"], "description": '56267.25, or "56 267,25"'}


class RecordItem(ImportItem):
    id: text_field(64, required=True, description="the provider's record id")
    client_code: client_code_field()
    contract: text_field(100, examples=("1-10265655331 - 0",)) = ""
    family: text_field(100, required=True, examples=("Affranchissement",))
    product: text_field(200, required=True, examples=("Lettre verte 20 g",))
    period: parsed_field(
        parse_period, {"type": "string", "description": "a month (2026-10) or a day (2026-10-15)"}
    )
    quantity: parsed_field(decimal_parser(18, 3), {"type": ["string", "number"]})  # its column
    unit: text_field(20, required=True, examples=("plis",))
    amount_ht: parsed_field(parse_amount, AMOUNT)
    currency: currency_field() = "EUR"
