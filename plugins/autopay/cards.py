"""Saving a card for automatic payment: a ``first`` payment of 0.00 at the provider's
checkout (the customer authenticates the card there, 3-D Secure included), which
leaves the card as a mandate of the organisation's customer; the ``card`` purpose
records it here once the payment is paid. Invoices are then charged on it as on a
SEPA mandate."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select

from core.plugin_api import (
    PaymentChange,
    PaymentPurpose,
    PurposeOutcome,
    audit_record,
    browser_url,
    db,
)
from core.plugin_api import gettext as _
from plugins.payments import public as payments

from . import mandates
from .models import Mandate

PURPOSE = "card"


def start(organisation_id: int, account_id: int, user_id: int):
    """Open the checkout where an admin saves a card; returns the payment to send
    them to. Raises :class:`~core.plugin_api.PaymentError`."""
    provider = mandates.provider_ready()
    customer_id = mandates.customer_of(organisation_id, provider)
    return payments.start(
        PURPOSE,
        organisation_id,
        account_id,
        0,
        _("Card saved for automatic payment"),
        user_id,
        method="creditcard",
        back=lambda payment_id: browser_url("autopay.card_saved", payment_id=payment_id),
        save_for=customer_id,
    )


def record(change: PaymentChange) -> PurposeOutcome | None:
    """The ``card`` purpose's ``on_paid``: the card the payment left becomes one of the
    organisation's mandates (once: a replayed payment finds it)."""
    remote, facts = change.mandate, change.payment
    provider = mandates.provider_ready()
    customer_id = provider and mandates.known_customer(facts.organisation_id, provider)
    if remote is None or not customer_id:
        return PurposeOutcome(problem="the provider reported no card saved by this payment")
    found = db.session.scalar(
        select(Mandate.id).where(Mandate.provider == provider.key, Mandate.provider_id == remote.id)
    )
    if found is not None:
        return
    mandate = Mandate(
        organisation_id=facts.organisation_id,
        provider=provider.key,
        customer_id=customer_id,
        provider_id=remote.id,
        method=remote.method,
        account=remote.account,
        signatory=remote.signatory,
        signed_on=remote.signed_on or date.today(),
        reference=remote.reference or f"G{facts.organisation_id}-{secrets.token_hex(5).upper()}",
        state=remote.status,
        signed_by=facts.user_id,
    )
    db.session.add(mandate)
    db.session.flush()
    audit_record(
        "autopay.card_saved",
        f"mandate:{mandate.id}",
        organisation_id=facts.organisation_id,
        after={"account": mandate.account},
    )
    return None


PAYMENT_PURPOSE = PaymentPurpose(PURPOSE, "autopay", on_paid=record)
