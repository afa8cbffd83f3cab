"""The lifecycle of an e-invoice ("cycle de vie"): the statuses the provider's billing
system, an approved platform, a payment or the customer give it, kept as a history
that only grows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.plugin_api import TenantMixin, db, lazy_pgettext, utcnow

PLUGIN = {"guichet_plugin": "einvoicing"}


#: The statuses of the French e-invoicing reform (the codes of the AFNOR XP Z12-012
#: lifecycle), named as an invoice's ("Refusée"), each with its step: a status never
#: follows one of a later step.
STATUSES = {
    "200": (1, lazy_pgettext("e-invoice", "Submitted")),  # Déposée
    "201": (2, lazy_pgettext("e-invoice", "Issued by the platform")),
    "202": (3, lazy_pgettext("e-invoice", "Received by the platform")),
    "203": (4, lazy_pgettext("e-invoice", "Made available")),  # Mise à disposition
    "204": (5, lazy_pgettext("e-invoice", "Taken in charge")),  # Prise en charge
    "205": (6, lazy_pgettext("e-invoice", "Approved")),
    "206": (6, lazy_pgettext("e-invoice", "Partly approved")),
    "207": (6, lazy_pgettext("e-invoice", "Disputed")),  # Litige
    "208": (6, lazy_pgettext("e-invoice", "Suspended")),
    "209": (6, lazy_pgettext("e-invoice", "Completed")),
    "211": (7, lazy_pgettext("e-invoice", "Payment sent")),
    "212": (8, lazy_pgettext("e-invoice", "Cashed")),  # Encaissée
    "210": (9, lazy_pgettext("e-invoice", "Refused")),  # Refusée
    "213": (9, lazy_pgettext("e-invoice", "Rejected")),  # Rejetée
}
#: After these, nothing: the invoice was paid, refused or rejected.
FINAL = frozenset({"210", "212", "213"})
#: What a buyer may say of an invoice from the portal.
BUYER_STATUSES = ("207", "210")
SOURCES = ("provider", "customer", "payment", "platform")


class LifecycleStatus(TenantMixin, db.Model):
    """One status of an invoice, on a day, from a source, with its reason."""

    __tablename__ = "einvoice_statuses"
    __table_args__ = (
        UniqueConstraint("invoice_id", "code", "on_date"),  # the same status sent again
        Index("ix_einvoice_statuses_invoice", "invoice_id", "id"),
        # the invoice list's filter: an organisation's invoices with a given status
        Index("ix_einvoice_statuses_org_code", "organisation_id", "code", "invoice_id", "id"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(Integer)  # the invoices app's, never deleted
    code: Mapped[str] = mapped_column(String(3))
    on_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="provider")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def label(self):
        return STATUSES[self.code][1]


def may_follow(history: list[str], code: str) -> bool:
    """Whether status ``code`` may come after the codes of ``history`` (oldest first):
    never after a final status, never back to an earlier step."""
    if not history:
        return True
    last = history[-1]
    return last not in FINAL and STATUSES[code][0] >= STATUSES[last][0]


class Refusal(TenantMixin, db.Model):
    """An invoice that cannot be had as an e-invoice, and why ("non e-facturable"), as
    the last check of its data found it; gone once an import completes it."""

    __tablename__ = "einvoice_refusals"
    __table_args__ = (
        Index("ix_einvoice_refusals_checked", "checked_at"),
        {"info": PLUGIN},
    )

    invoice_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transmission(TenantMixin, db.Model):
    """An invoice sent (or to send) through the approved platform: ``queued`` until it
    is, ``sent`` with the platform's id, ``failed`` with why once it will not be."""

    __tablename__ = "einvoice_transmissions"
    __table_args__ = (
        Index("ix_einvoice_transmissions_state", "state", "updated_at"),
        {"info": PLUGIN},
    )

    invoice_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    remote_id: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PlatformCursor(db.Model):
    """How far the statuses of a platform were read (its own cursor)."""

    __tablename__ = "einvoice_platform_cursors"
    __table_args__ = ({"info": PLUGIN},)

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(100), default="")


class ProvidedFile(TenantMixin, db.Model):
    """An e-invoice the provider made itself for an invoice (``POST /api/v1/einvoices``),
    checked, kept in the documents folder under its SHA-256, and served instead of the
    one the portal would make."""

    __tablename__ = "einvoice_provided"
    __table_args__ = ({"info": PLUGIN},)

    invoice_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    flavor: Mapped[str] = mapped_column(String(16), primary_key=True)  # factur-x, ubl
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
