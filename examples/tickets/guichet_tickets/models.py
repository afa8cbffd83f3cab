"""A customer's request ("demande") and the messages exchanged about it.

Both rows belong to an organisation (``TenantMixin``), so ``scoped(Ticket)`` keeps
them inside the user's organisation. The tables are marked as this plugin's, so
``guichet db migrate -x plugin=tickets`` writes their migrations
into this package's own history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.plugin_api import TenantMixin, User, db, utcnow

PLUGIN = {"guichet_plugin": "tickets"}  # the history these tables belong to
STATUSES = ("open", "answered", "closed")


class Ticket(TenantMixin, db.Model):
    """A request: ``open`` waits for the provider, ``answered`` for the customer."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "ix_tickets_organisation_id_status_updated_at",
            "organisation_id",
            "status",
            "updated_at",
        ),
        {"info": PLUGIN},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    author: Mapped[User | None] = relationship()
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", order_by="TicketMessage.id", cascade="all, delete-orphan"
    )


class TicketMessage(TenantMixin, db.Model):
    """One message of a request, by the customer or by an operator. ``notified_at`` is
    set when the customer was e-mailed about an operator's message (once)."""

    __tablename__ = "ticket_messages"
    __table_args__ = ({"info": PLUGIN},)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
