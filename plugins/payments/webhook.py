"""The provider's webhook: ungated (it carries no session) and exempt from CSRF (it
proves nothing: the payment is fetched from the provider itself)."""

from __future__ import annotations

import re

from flask import Blueprint, request

from core.plugin_api import PaymentError, csrf, db, limiter

from . import flow

PROVIDER_ID = re.compile(r"[A-Za-z0-9_]{3,64}")
webhooks = Blueprint("payments_webhook", __name__)
csrf.exempt(webhooks)


@webhooks.post("/webhook")
@limiter.exempt
def receive():
    """The provider says a payment changed: ``id=tr_…``, nothing else. We fetch the
    payment and apply it once. 200 for ids we do not know (nothing changes); 503 when
    the provider cannot be reached or the payment is busy, so that it calls again."""
    provider_id = request.form.get("id", "")
    if not PROVIDER_ID.fullmatch(provider_id):
        return (
            "The form field id (the payment's id, such as tr_WDqYK6vllg) is missing or bad.\n",
            400,
        )
    known = db.session.execute(flow.BY_PROVIDER_ID, {"provider_id": provider_id}).first()
    if known is None:
        return "", 200
    try:
        flow.settle(known.id, known.provider, provider_id)
    except flow.Busy:
        return "The payment is being updated; call again.\n", 503
    except PaymentError as error:
        db.session.rollback()
        if error.retry:
            return "The payment service cannot be reached; call again.\n", 503
        return "", 200  # the provider does not know it: nothing to apply
    except flow.Mismatch:
        return "", 200  # recorded on the payment for the operators
    return "", 200
