"""Online payments: one row per payment asked of the provider, the invoices it pays,
and the refunds made on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import (
    AccountScopedMixin,
    TenantMixin,
    db,
    utcnow,
)

PLUGIN = {"guichet_plugin": "payments"}
OPEN = ("open", "pending", "authorized")  # the provider may still change them


class Payment(AccountScopedMixin, db.Model):
    """A payment: its amount is computed on the server; its status changes only along
    :func:`core.payments.may_move`, with the row locked (see :mod:`.flow`)."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_org_id", "organisation_id", "id"),
        Index("ix_payments_status_created", "status", "created_at"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # idempotency key
    provider: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    description: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")
    method: Mapped[str | None] = mapped_column(String(32))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_back: Mapped[int] = mapped_column(BigInteger, default=0)
    problem: Mapped[str] = mapped_column(Text, default="")  # what did not match, for operators
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    invoices: Mapped[list[PaymentInvoice]] = relationship(
        cascade="all, delete-orphan", order_by="PaymentInvoice.invoice_id"
    )
    refunds: Mapped[list[PaymentRefund]] = relationship(
        cascade="all, delete-orphan", order_by="PaymentRefund.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


class PaymentInvoice(db.Model):
    """An invoice a payment pays, with the amount it paid for it."""

    __tablename__ = "payment_invoices"
    __table_args__ = ({"info": PLUGIN},)

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)


class PaymentRefund(TenantMixin, db.Model):
    """A refund asked of the provider; ``key`` is its idempotency key, so asking again
    after a lost answer refunds once."""

    __tablename__ = "payment_refunds"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested, done, failed
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
