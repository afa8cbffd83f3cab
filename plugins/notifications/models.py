"""Addresses that receive invoices by e-mail, and the log of every e-mail sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import (
    TenantMixin,
    User,
    db,
    utcnow,
)

PLUGIN = {"guichet_plugin": "notifications"}
KINDS = ("all", "invoice", "credit_note")  # which documents an address receives
FREQUENCIES = ("each", "daily")  # one e-mail per invoice, or a daily digest
# queued → sending → sent; a failure before the server accepted → retrying → ... →
# failed; a worker stopped while sending → uncertain (never sent twice)
STATUSES = ("queued", "sending", "retrying", "sent", "failed", "uncertain")
FLAG_AFTER_FAILURES = 3


class Subscription(TenantMixin, db.Model):
    """An address registered to receive the organisation's invoices: by a customer admin
    for the organisation (``user_id`` empty), or by a user for itself."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    attachments: Mapped[bool] = mapped_column(Boolean, default=True)
    # what is attached: "pdf", "facturx" (the PDF with its data, where the e-invoices
    # app is on) or "both"
    attachment_format: Mapped[str] = mapped_column(String(16), default="pdf", server_default="pdf")
    kinds: Mapped[str] = mapped_column(String(16), default="all")
    frequency: Mapped[str] = mapped_column(String(8), default="each")
    # ids of the accounts whose invoices it receives; empty: every account
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # consecutive permanent failures; flagged addresses receive nothing until edited
    failures: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # the last invoice a daily digest covered
    digest_after_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User | None] = relationship()

    def wants(self, kind: str, account_id: int, permitted: frozenset[int] | None) -> bool:
        """Whether an invoice of ``kind`` for ``account_id`` goes to this address;
        ``permitted`` is what the subscribing user may see (``None``: everything)."""
        if self.flagged or (self.kinds != "all" and self.kinds != kind):
            return False
        if self.account_ids and account_id not in self.account_ids:
            return False
        return permitted is None or account_id in permitted


class Settings(db.Model):
    """Per organisation: whether users may register their own addresses."""

    __tablename__ = "notification_settings"
    __table_args__ = ({"info": PLUGIN},)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    users_may_subscribe: Mapped[bool] = mapped_column(Boolean, default=False)


class Delivery(TenantMixin, db.Model):
    """One e-mail: to whom, which invoices, and how it went. ``key`` makes it unique:
    the same invoice for the same address is one delivery, however often it is asked."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("key", name="uq_notification_deliveries_key"),
        Index("ix_notification_deliveries_org_created", "organisation_id", "created_at"),
        Index("ix_notification_deliveries_status_updated", "status", "updated_at"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    attachments: Mapped[bool] = mapped_column(Boolean, default=True)
    attachment_format: Mapped[str] = mapped_column(String(16), default="pdf", server_default="pdf")
    # "invoice" (one invoice), "digest" (the day's), "manual" (sent from the list)
    reason: Mapped[str] = mapped_column(String(16), default="invoice")
    invoice_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(String(200), default="")  # "Facture 62268557", ...
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
