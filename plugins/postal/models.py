"""Letters sent by post: what was sent, to whom, with which options, at what price,
and every state it went through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import (
    AccountScopedMixin,
    db,
    scoped,
    utcnow,
)

PLUGIN = {"guichet_plugin": "postal"}


class Letter(AccountScopedMixin, db.Model):
    """A letter: paid from the wallet in the transaction that records it (entry key
    ``letter:<key>``), then handed to the provider by a background job."""

    __tablename__ = "letters"
    __table_args__ = (
        Index("ix_letters_org_id", "organisation_id", "id"),
        Index("ix_letters_status", "status"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # one letter per confirmation
    provider: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))  # the provider's
    status: Mapped[str] = mapped_column(String(16), default="queued")
    document_sha256: Mapped[str] = mapped_column(String(64))  # the PDF as the customer gave it
    title: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int] = mapped_column(Integer)  # printed pages, cover page included
    address: Mapped[list[str]] = mapped_column(JSON)
    country: Mapped[str] = mapped_column(String(2), default="FR")
    colour: Mapped[bool] = mapped_column(Boolean, default=False)
    duplex: Mapped[bool] = mapped_column(Boolean, default=False)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    price: Mapped[int] = mapped_column(BigInteger)
    #: wallet: the organisation's, debited when it is sent; provider: a letter the
    #: provider sends the organisation (a reminder), at its own cost
    payer: Mapped[str] = mapped_column(String(16), default="wallet", server_default="wallet")
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    events: Mapped[list[LetterEvent]] = relationship(
        cascade="all, delete-orphan", order_by="LetterEvent.id"
    )

    @property
    def reason(self) -> str:
        """What was said when the letter reached its status (why it failed...)."""
        for event in reversed(self.events):
            if event.status == self.status:
                return event.detail
        return ""


def sent_by_customers(scope=None):
    """The scope's letters its people sent, paid from its wallet: what its pages
    show (a letter the provider sends the organisation is not one of them)."""
    return scoped(Letter, scope).where(Letter.payer == "wallet")


class LetterEvent(db.Model):
    """One state of a letter, when it was reached, and what the provider said."""

    __tablename__ = "letter_events"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PostalSettings(db.Model):
    """Per organisation: its terms and conditions, which may be appended to an invoice
    sent by post."""

    __tablename__ = "postal_settings"
    __table_args__ = ({"info": PLUGIN},)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    terms_sha256: Mapped[str | None] = mapped_column(String(64))
    terms_pages: Mapped[int] = mapped_column(Integer, default=0)
