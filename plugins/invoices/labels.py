"""What invoice kinds and statuses are called, for pages, exports and documents: one
list of labels, translated once per request (a list of 25 invoices shows 50 of them)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask_babel import get_locale

from core.plugin_api import lazy_gettext as _l
from core.plugin_api import lazy_pgettext

KIND_LABELS = {"invoice": _l("Invoice"), "credit_note": _l("Credit note")}
STATUS_LABELS = {
    "to_pay": _l("To pay"),
    "paid": lazy_pgettext("invoice", "Paid"),
    "overdue": _l("Overdue"),
    "cancelled": lazy_pgettext("invoice", "Cancelled"),
}


@dataclass(frozen=True)
class Names:
    kinds: dict[str, str]
    statuses: dict[str, str]


def invoice_labels() -> Names:
    """The labels in the current language (the template global ``invoice_labels``)."""
    locale = str(get_locale())
    cache = g.setdefault("invoice_labels", {})
    if locale not in cache:
        cache[locale] = Names(
            {k: str(v) for k, v in KIND_LABELS.items()},
            {k: str(v) for k, v in STATUS_LABELS.items()},
        )
    return cache[locale]
