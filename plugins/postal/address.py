"""Postal addresses as the French rules (NF Z 10-011) want them on an envelope: at most
6 lines of at most 38 characters; in France the last line is the postcode and the
town; abroad it is the country's name."""

from __future__ import annotations

import re

from babel import Locale

from core.plugin_api import gettext as _

MAX_LINES = 6
MAX_CHARS = 38
POSTCODE_TOWN = re.compile(r"^\d{5} +\S")
COUNTRIES = ("FR", "BE", "LU", "CH", "DE", "ES", "IT", "NL", "GB", "MC")


def country_name(code: str) -> str:
    """The country's name as written on the last line (in French, in capitals)."""
    return Locale("fr").territories.get(code, code).upper()


def check_address(text: str, country: str) -> tuple[list[str], list[str]]:
    """The address's lines (blank lines dropped, spaces tidied) and what breaks the
    rules, each message naming the line."""
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    errors: list[str] = []
    if country not in COUNTRIES:
        return lines, [_("Choose the country from the list.")]
    if len(lines) < 2:
        return lines, [_("Give at least the recipient's name and the town.")]
    if len(lines) > MAX_LINES:
        errors.append(
            _(
                "An address has at most %(max)d lines; this one has %(count)d.",
                max=MAX_LINES,
                count=len(lines),
            )
        )
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_CHARS:
            errors.append(
                _(
                    "Line %(number)d has %(count)d characters; at most %(max)d fit.",
                    number=number,
                    count=len(line),
                    max=MAX_CHARS,
                )
            )
    last = lines[-1]
    if country == "FR" and not POSTCODE_TOWN.match(last):
        errors.append(
            _("In France the last line is the postcode and the town, such as “75015 PARIS”.")
        )
    if country != "FR" and last.upper() != country_name(country):
        errors.append(
            _("Abroad the last line is the country: “%(name)s”.", name=country_name(country))
        )
    return lines, errors
