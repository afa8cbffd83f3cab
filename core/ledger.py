"""The wallet ledger, a core money service: each organisation's prepaid balance and
the append-only entries it adds up to. Apps post to it (a top-up, postage, a refund)
through the plugin API (``ledger.post``, ``ledger.balance``); the wallet app shows it.

Every change of a balance is one ledger entry with a unique key, and a balance never
goes below zero, also under concurrent requests.

:func:`post` first changes the balance with one ``UPDATE … WHERE balance + amount >= 0
RETURNING balance``, which takes the wallet's row (a row lock on PostgreSQL, the
database's write lock on SQLite), so posts to one wallet run one after the other.
Then it writes the entry with ``INSERT … ON CONFLICT DO NOTHING``: when the key was
posted already, nothing is inserted, the change is undone and that entry returned.
Two statements in the usual case. It does not commit: the caller commits, with
whatever else belongs to the same transaction (a letter queued with its postage)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, make_transient_to_detached, mapped_column

from core.events import emit
from core.extensions import db
from core.models import TenantMixin, utcnow

KINDS = ("topup", "postage", "refund", "adjustment")


class Wallet(db.Model):
    """One per organisation: its balance in cents, changed only with a ledger entry,
    kept on one row so that reading it is one indexed query."""

    __tablename__ = "wallets"

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
    __table_args__ = (Index("ix_wallet_entries_org_id", "organisation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of KINDS
    amount: Mapped[int] = mapped_column(BigInteger)  # cents; debits are negative
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(120), default="")  # a payment, a letter
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InsufficientFunds(ValueError):
    """The balance does not cover the debit; no entry was written. Roll the transaction
    back: it holds the wallet's row until it ends."""

    def __init__(self, balance: int, amount: int):
        super().__init__(f"balance {balance} does not cover {-amount}")
        self.balance, self.amount = balance, amount


def balance(organisation_id: int) -> int:
    """The balance in cents (one query on the wallet's primary key)."""
    return db.session.scalar(_BALANCE, {"org": organisation_id}) or 0


# The statements, built once: building one anew costs more than running it.
_wallets, _entries = Wallet.__table__, WalletEntry.__table__
_amount = bindparam("amount")
_ADD = (
    update(_wallets)
    .where(_wallets.c.organisation_id == bindparam("org"), _wallets.c.balance + _amount >= 0)
    .values(balance=_wallets.c.balance + _amount, updated_at=bindparam("now"))
    .returning(_wallets.c.balance)
)
_UNDO = (
    update(_wallets)
    .where(_wallets.c.organisation_id == bindparam("org"))
    .values(balance=_wallets.c.balance - _amount)
)
_BALANCE = select(Wallet.balance).where(Wallet.organisation_id == bindparam("org"))
_ENTRY = select(WalletEntry).where(WalletEntry.key == bindparam("key"))
_NEW_ENTRY = {
    dialect.dialect.name: dialect.insert(_entries).on_conflict_do_nothing().returning(_entries.c.id)
    for dialect in (sqlite, postgresql)
}
_NEW_WALLET = {
    dialect.dialect.name: dialect.insert(_wallets)
    .values(balance=0, currency="EUR")
    .on_conflict_do_nothing()
    for dialect in (sqlite, postgresql)
}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def ensure_wallet(organisation_id: int) -> None:
    """Create the organisation's wallet if it has none, in the caller's transaction
    (``INSERT … ON CONFLICT DO NOTHING``: a concurrent first post is no error)."""
    db.session.execute(
        _NEW_WALLET[_dialect()], {"organisation_id": organisation_id, "updated_at": utcnow()}
    )


def post(
    organisation_id: int,
    kind: str,
    amount: int,
    key: str,
    reason: str = "",
    reference: str = "",
    user_id: int | None = None,
) -> WalletEntry:
    """Add an entry of ``amount`` cents (negative for a debit) unless ``key`` was posted
    already (then that entry is returned and nothing changes). Raises
    :class:`InsufficientFunds` when a debit exceeds the balance. Does not commit."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    change = {"org": organisation_id, "amount": amount, "now": utcnow()}
    after = db.session.scalar(_ADD, change)
    if after is None:  # refused, posted before, or the organisation's first post
        existing = db.session.scalar(_ENTRY, {"key": key})
        if existing is not None:
            return existing
        ensure_wallet(organisation_id)
        after = db.session.scalar(_ADD, change)
        if after is None:
            raise InsufficientFunds(balance(organisation_id), amount)
    values = {
        "organisation_id": organisation_id,
        "key": key,
        "kind": kind,
        "amount": amount,
        "balance_after": after,
        "reason": reason,
        "reference": reference,
        "user_id": user_id,
        "created_at": change["now"],
    }
    entry_id = db.session.scalar(_NEW_ENTRY[_dialect()], values)
    if entry_id is None:  # posted before: the balance goes back as it was
        db.session.execute(_UNDO, change)
        return db.session.scalar(_ENTRY, {"key": key})
    entry = WalletEntry(id=entry_id, **values)  # as written, with no query to read it
    make_transient_to_detached(entry)
    db.session.add(entry)
    # what apps watch (a balance falling below a threshold): they may note, not write,
    # since the caller's transaction is still open
    emit(
        "wallet.posted",
        {
            "organisation_id": organisation_id,
            "entry_id": entry_id,
            "amount": amount,
            "balance_after": after,
        },
    )
    return entry


def check(organisation_id: int) -> tuple[int, int]:
    """The stored balance and the sum of the ledger: they must be equal."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(WalletEntry.amount), 0)).where(
            WalletEntry.organisation_id == organisation_id
        )
    )
    return balance(organisation_id), int(total)
