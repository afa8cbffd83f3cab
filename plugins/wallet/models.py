"""The prepaid wallet of an organisation: an append-only ledger of entries, and the
balance they add up to, kept on one row so that reading it is one indexed query."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.plugin_api import (
    TenantMixin,
    db,
    utcnow,
)

PLUGIN = {"guichet_plugin": "wallet"}
KINDS = ("topup", "postage", "refund", "adjustment")


class Wallet(db.Model):
    """One per organisation: its balance in cents, changed only with a ledger entry."""

    __tablename__ = "wallets"
    __table_args__ = ({"info": PLUGIN},)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WalletEntry(TenantMixin, db.Model):
    """One movement of the wallet; never changed nor deleted. ``key`` makes it unique:
    the same top-up or postage posted twice is one entry."""

    __tablename__ = "wallet_entries"
    __table_args__ = (
        Index("ix_wallet_entries_org_id", "organisation_id", "id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # cents; debits are negative
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(120), default="")  # a payment, a letter
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
