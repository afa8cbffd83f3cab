"""The low-balance alert: when a debit takes the balance below the organisation's
threshold (``low_balance``, in euros, set by its admins; 0: no alert), its admins get
one e-mail with the balance and the way to top it up. One per crossing: the debit's
ledger entry is the alert's key, written before the e-mail."""

from __future__ import annotations

import smtplib
from datetime import datetime

from flask import g, render_template
from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from core.plugin_api import (
    TenantMixin,
    admin_emails,
    app_settings,
    db,
    emit,
    external_url,
    ledger,
    money,
    organisation_language,
    send_email,
    task,
    utcnow,
)
from core.plugin_api import gettext as _

from .public import APP_KEY


class LowBalanceAlert(TenantMixin, db.Model):
    """The alert of one debit that crossed the threshold."""

    __tablename__ = "wallet_alerts"
    __table_args__ = ({"info": {"guichet_plugin": "wallet"}},)

    entry_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("wallet_entries.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), default="sending")  # then sent
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def threshold(organisation_id: int) -> int:
    """The organisation's threshold in cents; 0 when it wants no alert. Read once per
    request or task: a run that posts many debits (letters sent together) reads it once
    (bench.wallet: 990 debits a second reading it each time, 2,900 without)."""
    known = g.setdefault("wallet_thresholds", {})
    if organisation_id not in known:
        settings = app_settings(organisation_id, APP_KEY)
        known[organisation_id] = int(settings["low_balance"] or 0) * 100
    return known[organisation_id]


def note(payload: dict) -> None:
    """On a ledger entry (``wallet.posted``): a debit that crosses the threshold is
    remembered, and queued when the context ends (the poster's transaction is open)."""
    amount, after = payload["amount"], payload["balance_after"]
    if amount >= 0:
        return
    limit = threshold(payload["organisation_id"])
    if limit and after < limit <= after - amount:
        g.setdefault("wallet_low", []).append((payload["organisation_id"], payload["entry_id"]))


def flush() -> None:
    for organisation_id, entry_id in g.pop("wallet_low", []):
        warn(organisation_id, entry_id)


_CLAIM = {
    dialect.dialect.name: dialect.insert(LowBalanceAlert)
    .on_conflict_do_nothing()
    .returning(LowBalanceAlert.entry_id)
    for dialect in (sqlite, postgresql)
}


@task(kind="mail", retries=5)
def warn(organisation_id: int, entry_id: int) -> str:
    """E-mail the admins that the balance fell below the threshold, once per debit."""
    entry = db.session.get(ledger.WalletEntry, entry_id)
    if entry is None:
        return "no entry"  # its transaction was rolled back
    claim = {
        "organisation_id": organisation_id,
        "entry_id": entry_id,
        "state": "sending",
        "created_at": utcnow(),
    }
    if db.session.scalar(_CLAIM[db.session.get_bind().dialect.name], claim) is None:
        db.session.rollback()
        return "sent before"
    db.session.commit()
    limit, balance = threshold(organisation_id), entry.balance_after
    # once per crossing (the claim above): another app may act on it (a top-up)
    emit(
        "wallet.low",
        {
            "organisation_id": organisation_id,
            "entry_id": entry_id,
            "balance": balance,
            "threshold": limit,
        },
    )
    admins = admin_emails(organisation_id)
    with organisation_language(organisation_id):
        subject = _("Your balance is below %(limit)s", limit=money(limit))
        body = render_template(
            "wallet/low_balance.txt",
            limit=limit,
            balance=balance,
            link=external_url("wallet.topup"),
        )
    try:
        sent = admins and send_email(admins, subject, body)
    except (smtplib.SMTPException, OSError):
        db.session.execute(delete(LowBalanceAlert).where(LowBalanceAlert.entry_id == entry_id))
        db.session.commit()  # not sent: the retry claims it again
        raise
    db.session.execute(
        update(LowBalanceAlert)
        .where(LowBalanceAlert.entry_id == entry_id)
        .values(state="sent" if sent else "unsent")
    )
    db.session.commit()
    return "sent" if sent else "unsent"
