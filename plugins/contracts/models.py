"""Contracts of an organisation's accounts, with the documents attached to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import (
    Account,
    AccountScopedMixin,
    db,
    utcnow,
)

PLUGIN = {"guichet_plugin": "contracts"}
STATUSES = ("active", "suspended", "ended")


class Contract(AccountScopedMixin, db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        Index("ix_contracts_org_start", "organisation_id", "start_on", "id"),
        Index("ix_contracts_org_status", "organisation_id", "status"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # "1-10265655331 - 0"
    product: Mapped[str] = mapped_column(String(200))  # "Compte Clients"
    status: Mapped[str] = mapped_column(String(16), default="active")
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    # Fingerprint of the imported data: the same data sent again changes nothing.
    source_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    account: Mapped[Account] = relationship()
    documents: Mapped[list[ContractDocument]] = relationship(
        back_populates="contract",
        cascade="all, delete-orphan",
        order_by="ContractDocument.position",
    )


class ContractDocument(db.Model):
    """A PDF attached to a contract ("Conditions spécifiques de vente"), kept by
    core.documents under its SHA-256."""

    __tablename__ = "contract_documents"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)

    contract: Mapped[Contract] = relationship(back_populates="documents")
