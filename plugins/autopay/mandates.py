"""Signing and revoking SEPA Direct Debit mandates at the payment provider. The IBAN
and BIC are checked here first (``python-stdnum``: the IBAN's country format and
checksum, SEPA countries only), so a typing error gets a clear message and the
provider is not asked; what the provider refuses all the same is reported on the
field it names. Nothing is recorded unless the provider recorded the mandate."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from stdnum import bic as bics
from stdnum import iban as ibans
from stdnum.exceptions import ValidationError

from core.plugin_api import (
    MandateRequest,
    Organisation,
    PaymentError,
    audit_record,
    db,
    payment_provider,
    utcnow,
)
from core.plugin_api import gettext as _

from .models import AutopayAccount, Charge, Mandate, ProviderCustomer

log = logging.getLogger(__name__)
#: the countries of the SEPA scheme (EEA, Switzerland, the United Kingdom, Monaco,
#: San Marino, Andorra, the Vatican, Albania, Moldova, Montenegro, North Macedonia)
_SEPA_CODES = (
    "AD AL AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC "
    "MD ME MK MT NL NO PL PT RO SE SI SK SM VA"
)
SEPA = frozenset(_SEPA_CODES.split())


class MandateRefused(ValueError):
    """The mandate cannot be signed; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def clean_iban(value: str) -> str:
    """The IBAN without spaces, upper case; :class:`MandateRefused` when it fails its
    format or checksum, or is outside the SEPA countries."""
    try:
        compact = ibans.validate(value or "")
    except ValidationError:
        raise MandateRefused(
            "iban", _("This IBAN is not valid: check its characters (its checksum fails).")
        ) from None
    if compact[:2] not in SEPA:
        raise MandateRefused("iban", _("Only accounts in the SEPA countries can be debited."))
    return compact


def clean_bic(value: str) -> str:
    """The BIC upper case, or ``""``; :class:`MandateRefused` when malformed."""
    if not (value or "").strip():
        return ""
    try:
        return bics.validate(value)
    except ValidationError:
        raise MandateRefused("bic", _("This BIC is not valid (8 or 11 characters).")) from None


def provider_ready():
    """The provider, when it can keep mandates; else ``None``."""
    provider = payment_provider()
    return provider if provider is not None and provider.recurring else None


_KEEP_CUSTOMER = {
    dialect.dialect.name: dialect.insert(ProviderCustomer).on_conflict_do_nothing()
    for dialect in (sqlite, postgresql)
}


def known_customer(organisation_id: int, provider) -> str | None:
    """The organisation's customer id at the provider, if it has one yet."""
    return db.session.scalar(
        select(ProviderCustomer.customer_id).where(
            ProviderCustomer.organisation_id == organisation_id,
            ProviderCustomer.provider == provider.key,
        )
    )


def customer_of(organisation_id: int, provider) -> str:
    """The organisation's customer id at the provider, created once (a customer made
    twice at once gets the same id: its creation key is the organisation's)."""
    known = known_customer(organisation_id, provider)
    if known:
        return known
    organisation = db.session.get(Organisation, organisation_id)
    customer_id = provider.create_customer(
        organisation.name, "", f"organisation-{organisation_id}", f"customer-{organisation_id}"
    )
    row = {
        "organisation_id": organisation_id,
        "provider": provider.key,
        "customer_id": customer_id,
        "created_at": utcnow(),
    }
    db.session.execute(_KEEP_CUSTOMER[db.session.get_bind().dialect.name], row)
    db.session.commit()
    return known_customer(organisation_id, provider)


def sign(organisation_id: int, user_id: int, signatory: str, iban: str, bic: str = "") -> Mandate:
    """Record the mandate an admin signs today. Raises :class:`MandateRefused`."""
    iban, bic = clean_iban(iban), clean_bic(bic)
    signatory = " ".join(signatory.split())
    if not signatory:
        raise MandateRefused("signatory", _("Enter the account holder's name."))
    provider = provider_ready()
    if provider is None:
        raise MandateRefused("iban", _("Automatic payment is not available on this portal."))
    today = date.today()
    reference = f"G{organisation_id}-{secrets.token_hex(5).upper()}"
    # the same account signed twice the same day by the same organisation: one mandate
    key = hashlib.sha256(f"{organisation_id}:{iban}:{today}".encode()).hexdigest()
    try:
        customer_id = customer_of(organisation_id, provider)
        remote = provider.create_mandate(
            customer_id, MandateRequest(signatory, iban, bic, today, reference), key
        )
    except PaymentError as error:
        db.session.rollback()
        field = {"consumerAccount": "iban", "consumerBic": "bic", "consumerName": "signatory"}
        raise MandateRefused(
            field.get(error.field or "", "iban"),
            _("The payment service refused the mandate: %(reason)s", reason=error.message),
        ) from error
    found = db.session.scalar(
        select(Mandate).where(Mandate.provider == provider.key, Mandate.provider_id == remote.id)
    )
    if found is not None:
        return found
    mandate = Mandate(
        organisation_id=organisation_id,
        provider=provider.key,
        customer_id=customer_id,
        provider_id=remote.id,
        method=remote.method,
        account=remote.account or f"{iban[:4]} •••• {iban[-4:]}",
        signatory=signatory,
        signed_on=today,
        reference=remote.reference or reference,
        state=remote.status,
        signed_by=user_id,
    )
    db.session.add(mandate)
    db.session.flush()
    audit_record(
        "autopay.mandate_signed",
        f"mandate:{mandate.id}",
        organisation_id=organisation_id,
        after={"account": mandate.account, "signatory": signatory},
    )
    db.session.commit()
    return mandate


def end(mandate: Mandate, state: str, reason: str) -> list[int]:
    """The mandate can no longer be charged (``revoked`` by an admin, ``invalid`` at
    the bank): the accounts on it are no longer paid automatically, and its charges
    not yet asked of the provider are skipped; returns those of them already
    announced. The caller commits."""
    announced = []
    mandate.state, mandate.ended_at = state, utcnow()
    for choice in db.session.scalars(
        select(AutopayAccount).where(AutopayAccount.mandate_id == mandate.id)
    ):
        db.session.delete(choice)
    for charge in db.session.scalars(
        select(Charge).where(Charge.mandate_id == mandate.id, Charge.state == "scheduled")
    ):
        charge.state, charge.reason, charge.updated_at = "skipped", reason, utcnow()
        if charge.notice == "sent":
            announced.append(charge.id)
    return announced


def revoke(mandate: Mandate) -> None:
    """An admin revokes the mandate: at the provider first, then here. Raises
    :class:`PaymentError` when the provider cannot be reached (nothing changes)."""
    provider = provider_ready()
    if provider is not None and provider.key == mandate.provider:
        provider.revoke_mandate(mandate.customer_id, mandate.provider_id)
    end(mandate, "revoked", "the mandate was revoked")
    audit_record(
        "autopay.mandate_revoked",
        f"mandate:{mandate.id}",
        organisation_id=mandate.organisation_id,
        before={"account": mandate.account},
    )
    db.session.commit()
