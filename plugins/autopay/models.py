"""Automatic payment: the organisation's customer at the payment provider, the SEPA
Direct Debit mandates its admins signed, the accounts whose invoices are paid
automatically (and on which mandate), and each charge of an invoice: one row per
invoice and attempt (a unique key), written before anything is asked of the provider,
whose idempotency key it gives, so that no invoice is charged twice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import AccountScopedMixin, TenantMixin, db, utcnow

PLUGIN = {"guichet_plugin": "autopay"}


class ProviderCustomer(TenantMixin, db.Model):
    """The organisation as a customer of the payment provider (mandates belong to it)."""

    __tablename__ = "autopay_customers"
    __table_args__ = (UniqueConstraint("organisation_id", "provider"), {"info": PLUGIN})

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


#: valid: may be charged; pending: the provider checks it; invalid: the bank or the
#: provider refused or revoked it; revoked: an admin of the organisation revoked it
MANDATE_STATES = ("pending", "valid", "invalid", "revoked")


class Mandate(TenantMixin, db.Model):
    """A mandate signed by an admin: the account appears by its first and last
    characters only, the rest is the provider's to keep."""

    __tablename__ = "autopay_mandates"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_autopay_mandates_org_id", "organisation_id", "id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32), default="directdebit")
    account: Mapped[str] = mapped_column(String(64))  # FR76 •••• 0189
    signatory: Mapped[str] = mapped_column(String(200))
    signed_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(35))
    state: Mapped[str] = mapped_column(String(16), default="valid")
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def usable(self) -> bool:
        return self.state == "valid"


class AutopayAccount(AccountScopedMixin, db.Model):
    """An account whose invoices are paid automatically on their due date, and the
    mandate they are charged on; only invoices due ``since`` the day it was chosen
    (those already overdue then are left to pay by hand, and to the reminders)."""

    __tablename__ = "autopay_accounts"
    __table_args__ = (UniqueConstraint("account_id"), {"info": PLUGIN})

    id: Mapped[int] = mapped_column(primary_key=True)
    mandate_id: Mapped[int] = mapped_column(
        ForeignKey("autopay_mandates.id", ondelete="CASCADE"), index=True
    )
    chosen_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    since: Mapped[date] = mapped_column(Date, default=date.today)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    mandate: Mapped[Mandate] = relationship()


#: scheduled: announced, to charge on ``charge_on``; charging: being asked of the
#: provider; pending: the bank has it; then paid, failed (the bank refused, the mandate
#: was invalid), charged_back (the customer's bank took it back), or skipped (paid,
#: credited or held before its day, or its mandate ended)
CHARGE_STATES = ("scheduled", "charging", "pending", "paid", "failed", "charged_back", "skipped")
#: the invoice is being collected: other apps hold off (``guichet_collection_holds``);
#: not while ``charging``, the moment the charge itself asks whether anything holds it
HOLDING = ("scheduled", "pending")


class Charge(AccountScopedMixin, db.Model):
    """An invoice's automatic payment: ``attempt`` counts the tries of one invoice;
    its key ``autopay-<id>`` is the payment's idempotency key at the provider."""

    __tablename__ = "autopay_charges"
    __table_args__ = (
        UniqueConstraint("invoice_id", "attempt"),
        Index("ix_autopay_charges_org_id", "organisation_id", "id"),
        Index("ix_autopay_charges_state_day", "state", "charge_on"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(Integer)  # the invoices app's, never deleted
    number: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("autopay_mandates.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    charge_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    notice: Mapped[str] = mapped_column(String(16), default="queued")  # sending, sent, unsent
    payment_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the payments app's
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    mandate: Mapped[Mandate] = relationship()

    @property
    def key(self) -> str:
        return f"autopay-{self.id}"


class Topup(TenantMixin, db.Model):
    """An automatic top-up of the wallet, asked when a debit took the balance below the
    organisation's alert threshold: one per such debit (``entry_id``, unique), whose
    key ``autopay-topup-<id>`` is the payment's idempotency key."""

    __tablename__ = "autopay_topups"
    __table_args__ = (
        Index("ix_autopay_topups_org_id", "organisation_id", "id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer, unique=True)  # the ledger's debit
    mandate_id: Mapped[int] = mapped_column(ForeignKey("autopay_mandates.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="charging")  # as a charge's
    payment_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the payments app's
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    mandate: Mapped[Mandate] = relationship()

    @property
    def key(self) -> str:
        return f"autopay-topup-{self.id}"
