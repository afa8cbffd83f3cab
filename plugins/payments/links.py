"""Payment links: the address in an invoice's e-mail (and its reminders) that opens the
payment of that invoice. It names the invoice under the portal's signature, so nobody
can make one for another invoice; it works until the invoice is paid. It opens after
login, in the reader's own scope (someone who may not see the invoice gets 404), or,
where the operators allow it (``PAYMENT_LINKS_WITHOUT_LOGIN``), without login for that
one invoice (:mod:`.guest`)."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from core.plugin_api import enabled_app_keys, external_url
from plugins.invoices import public as invoices

from .flow import available

SALT = "payment-link"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def payment_link(invoice: invoices.Invoice) -> str | None:
    """The payment link of ``invoice``, or None where it cannot be paid online: nothing
    left to pay, or no online payments for its organisation (the app off, no
    provider). Works outside a request (the worker's e-mails): on ``PUBLIC_URL``."""
    organisation = invoice.organisation_id
    if invoice.amount_due <= 0 or invoices.APP_KEY not in enabled_app_keys(organisation):
        return None
    if not available(organisation):
        return None
    endpoint = "payments_guest.pay" if guests_allowed() else "payments.link"
    return external_url(endpoint, token=_signer().dumps(invoice.id))


def guests_allowed() -> bool:
    """Whether a payment link opens without login (``PAYMENT_LINKS_WITHOUT_LOGIN``)."""
    return bool(current_app.config["PAYMENT_LINKS_WITHOUT_LOGIN"])


def read_link(token: str) -> int | None:
    """The invoice id a link names, or None for a link the portal did not sign."""
    try:
        value = _signer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
