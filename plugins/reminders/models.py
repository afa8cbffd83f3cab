"""Each reminder of an invoice at a step of the schedule: one row per invoice and step
(a unique key), written before the e-mail is sent, so that none is sent twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.plugin_api import AccountScopedMixin, db, utcnow

PLUGIN = {"guichet_plugin": "reminders"}
#: queued: to send; sending: handed to the mail server (a worker that stopped there
#: leaves it uncertain, never sent again); sent; skipped: paid or held meanwhile;
#: failed: could not be sent (no one to send it to, mail not configured)
STATES = ("queued", "sending", "sent", "uncertain", "skipped", "failed")


class Reminder(AccountScopedMixin, db.Model):
    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("invoice_id", "days"),
        Index("ix_reminders_org_id", "organisation_id", "id"),
        Index("ix_reminders_state", "state", "updated_at"),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(Integer)  # the invoices app's, never deleted
    number: Mapped[str] = mapped_column(String(32))
    days: Mapped[int] = mapped_column(Integer)  # the step: days from the due date
    audience: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
