"""Language and formats: French by default, English available; amounts and dates by
Babel in the user's locale (``56 267,25 €`` and ``27/05/2022`` in French)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from flask import Flask, current_app, request
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
)
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from core.config import REPO_ROOT


def translation_directories(plugins: Iterable[object] = ()) -> str:
    """The core's catalogs, then the ``translations`` folder beside each plugin's
    module (built-in or installed from a package) that has one."""
    folders = [REPO_ROOT / "core" / "translations"]
    for plugin in plugins:
        module = plugin if isinstance(plugin, ModuleType) else sys.modules[type(plugin).__module__]
        source = getattr(module, "__file__", None)
        folder = Path(source).parent / "translations" if source else None
        if folder is not None and folder.is_dir() and folder not in folders:
            folders.append(folder)
    return ";".join(str(p) for p in folders)


LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def language_choices() -> list[SelectChoice]:
    """The languages offered in forms, each named in its own language."""
    return [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()]


def select_locale() -> str:
    """The user's choice, else the browser's preference, else French."""
    languages = current_app.config["LANGUAGES"]
    user = current_user if request else None
    if user is not None and user.is_authenticated and user.locale in languages:
        return user.locale
    if request:
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def money(minor_units: int | None, currency: str = "EUR") -> str:
    """Format an amount held in minor units: ``money(5626725)`` → ``56 267,25 €`` in French."""
    if minor_units is None:
        return ""
    return format_currency(Decimal(minor_units).scaleb(-2), currency)


def short_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    return format_date(value, "short")


def number(value) -> str:
    """A quantity, rate or unit price in the user's locale, every significant decimal
    kept (up to six): ``40722`` → ``40 722``, ``0.105065`` → ``0,105065``."""
    return "" if value is None else format_decimal(value, format="#,##0.######")


def unit_price(value) -> str:
    """A unit price: two decimals at least, every significant one kept (up to six):
    ``75.5`` → ``75,50``, ``0.105065`` → ``0,105065``."""
    return "" if value is None else format_decimal(value, format="#,##0.00####")


def percent_sign() -> str:
    """`` %`` after a no-break space in French, ``%`` in English."""
    return "\u00a0%" if str(get_locale()).startswith("fr") else "%"


def month(value) -> str:
    """A month as people write it: ``2026-10`` (or a date) → ``octobre 2026``."""
    if not value:
        return ""
    if isinstance(value, str):
        year, _, number = value.partition("-")
        try:
            value = date(int(year), int(number), 1)
        except ValueError:
            return value
    return format_date(value, "MMMM yyyy")


def rate(value) -> str:
    """A rate in percent: ``20`` → ``20 %`` in French (no-break space), ``20%`` in English."""
    return "" if value is None else number(value) + percent_sign()


def change(percent: float | None) -> str:
    """A signed change in the user's locale: ``12.34`` → ``+12,3 %`` in French; "—"
    when there is nothing to compare with; a change that rounds to nothing has no sign
    (``0,0 %``, never ``-0,0 %``)."""
    if percent is None:
        return "—"
    rounded = round(percent, 1)
    if rounded == 0:
        return format_decimal(0, format="0.0") + percent_sign()
    return format_decimal(rounded, format="+#,##0.0;-#,##0.0") + percent_sign()


def colon(label: str) -> str:
    """``label`` followed by a colon, set as the user's language wants it: after a
    no-break space in French (``Solde :``), right after the word in English."""
    return f"{label}\u00a0:" if str(get_locale()).startswith("fr") else f"{label}:"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["colon"] = colon
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["unit_price"] = unit_price
    app.jinja_env.filters["rate"] = rate
    app.jinja_env.filters["month"] = month
    app.jinja_env.filters["change"] = change
    app.jinja_env.filters["short_date"] = short_date
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
