"""Language and formats: French by default, English available; amounts and dates by
Babel in the user's locale (``56 267,25 €`` and ``27/05/2022`` in French)."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, request
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_translations,
)
from flask_babel.speaklater import LazyString
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


def _language() -> tuple[str, Translations | NullTranslations]:
    """The name of the context's locale and its catalog, as Flask-Babel's ``get_locale``
    and ``get_translations`` find them, kept beside Flask-Babel's own state until the
    locale changes (``force_locale``): a page writes some sixty strings and fifty
    amounts, and Flask-Babel's lookup reads three context locals and turns the locale
    into a string for each."""
    try:
        state = g.get("_flask_babel")
    except RuntimeError:  # outside an app context
        state = None
    known = getattr(state, "guichet_language", None)
    if known is None or known[0] is not getattr(state, "babel_locale", None):
        locale = get_locale()
        if locale is None:  # outside an app context
            return str(locale), get_translations()
        state = g._flask_babel
        known = state.guichet_language = (state.babel_locale, str(locale), get_translations())
    return known[1], known[2]


def gettext(string: str, **variables) -> str:
    """``string`` in the context's language, ``%(name)s`` replaced by ``variables``: as
    Flask-Babel's ``gettext``, through the catalog kept by the context (Flask-Babel
    looks it up again through some ten context locals each time; a page translates a
    hundred strings)."""
    text = _language()[1].ugettext(string)
    return text % variables if variables else text


def pgettext(context: str, string: str, **variables) -> str:
    """:func:`gettext` of ``string`` as meant in ``context`` ("invoice", "a row")."""
    text = _language()[1].upgettext(context, string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """:func:`gettext` of the form of ``singular``/``plural`` for ``num`` (``%(num)d``)."""
    variables.setdefault("num", num)
    return _language()[1].ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """:func:`gettext` when the string is used (labels defined at import time)."""
    return LazyString(gettext, string, **variables)


def lazy_pgettext(context: str, string: str, **variables) -> LazyString:
    """:func:`pgettext` when the string is used."""
    return LazyString(pgettext, context, string, **variables)


def locale_name() -> str:
    """The locale of the request (or of ``force_locale``), as a string: ``fr``."""
    return _language()[0]


def money(minor_units: int | None, currency: str = "EUR") -> str:
    """Format an amount held in minor units: ``money(5626725)`` → ``56 267,25 €`` in French."""
    if minor_units is None:
        return ""
    minor_units = int(minor_units)  # a sum on PostgreSQL is a Decimal
    locale = locale_name()
    fast = _money_format(locale, currency)
    if fast is not None:
        return fast(minor_units)
    return format_currency(Decimal(minor_units).scaleb(-2), currency)


# An amount as Babel writes it: prefix, 1, group, 234, group, 567, decimal, 89, suffix.
_SAMPLE = re.compile(
    r"(?P<prefix>.*?)1(?P<group>\D+)234(?P=group)567(?P<decimal>\D+)89(?P<suffix>.*)"
)
_CHECKS = (0, 5, -5, 100, 99999, 123456, -123456, 100000000, -100000000)


@functools.lru_cache(maxsize=256)
def _money_format(locale: str, currency: str) -> Callable[[int], str] | None:
    """Babel's way of writing amounts of ``currency`` in ``locale``, learnt once from
    what it writes for two samples and checked against it on more: a list of 25
    invoices writes 50 amounts, and Babel takes 30 µs for each. None where the samples
    do not fit (not two decimals, another grouping): Babel itself then writes each."""
    if babel_numbers.get_currency_precision(currency) != 2:
        return None
    parts = []
    for sample in ("1234567.89", "-1234567.89"):
        found = _SAMPLE.fullmatch(
            babel_numbers.format_currency(Decimal(sample), currency, locale=locale)
        )
        if found is None:
            return None
        parts.append(found.groupdict())
    positive, negative = parts

    def write(cents: int) -> str:
        p = negative if cents < 0 else positive
        units, rest = divmod(abs(cents), 100)
        grouped = f"{units:,}".replace(",", p["group"])
        return f"{p['prefix']}{grouped}{p['decimal']}{rest:02d}{p['suffix']}"

    for cents in _CHECKS:
        expected = babel_numbers.format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)
        if write(cents) != expected:
            return None
    return write


def short_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    return _short_date(value, locale_name())


@functools.lru_cache(maxsize=4096)
def _short_date(value: date, locale: str) -> str:
    """A day in ``locale``'s short form: a list writes the same few days many times."""
    return babel_dates.format_date(value, "short", locale=locale)


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
    return "\u00a0%" if locale_name().startswith("fr") else "%"


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
    return f"{label}\u00a0:" if locale_name().startswith("fr") else f"{label}:"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["colon"] = colon
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["unit_price"] = unit_price
    app.jinja_env.filters["rate"] = rate
    app.jinja_env.filters["month"] = month
    app.jinja_env.filters["change"] = change
    app.jinja_env.filters["short_date"] = short_date
    app.jinja_env.globals["current_locale"] = locale_name
    # Templates translate through the catalog kept by _language (Jinja's own
    # "newstyle" gettext around it), and ``_`` is gettext itself rather than Jinja's
    # alias that looks gettext up again on every call.
    app.jinja_env.install_gettext_callables(
        gettext=gettext,
        ngettext=lambda s, p, n: _language()[1].ungettext(s, p, n),
        pgettext=pgettext,
        npgettext=lambda c, s, p, n: _language()[1].unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"]
