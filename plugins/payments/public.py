"""The online payments app's public contract: what another app may use to take a
payment for its own purpose (the wallet's top-up form), or the link that opens the
payment of an invoice (``payment_link``, in the invoice e-mails). An app imports this module
and nothing else of the payments app (an import-linter contract holds it); what the
payment does once paid is the purpose's (``guichet_payment_purposes``)."""

from .flow import (
    APP_KEY,
    available,
    checkout_target,
    method_choices,
    open_payments_for,
    refusal,
    start,
    status_of,
)
from .links import payment_link

__all__ = [
    "APP_KEY",
    "available",
    "checkout_target",
    "method_choices",
    "open_payments_for",
    "payment_link",
    "refusal",
    "start",
    "status_of",
]
