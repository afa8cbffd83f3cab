"""Posting to the wallet: every change of a balance is one ledger entry with a unique
key, and a balance never goes below zero, also under concurrent requests.

:func:`post` first takes the wallet's row (a row lock on PostgreSQL, the database's
write lock on SQLite) with an ``UPDATE`` (creating the wallet first when that finds
none), so posts to one wallet run one after the other; then it looks for the key (a
second post with it changes nothing), and applies the amount with an
``UPDATE … WHERE balance + amount >= 0``. It does not commit: the caller commits,
with whatever else belongs to the same transaction (a letter queued with its
postage)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.extensions import db
from core.models import utcnow

from .models import KINDS, Wallet, WalletEntry


class InsufficientFunds(ValueError):
    """The balance does not cover the debit; no entry was written. Roll the transaction
    back: it holds the wallet's row until it ends."""

    def __init__(self, balance: int, amount: int):
        super().__init__(f"balance {balance} does not cover {-amount}")
        self.balance, self.amount = balance, amount


def balance(organisation_id: int) -> int:
    """The balance in cents (one query on the wallet's primary key)."""
    value = db.session.scalar(
        select(Wallet.balance).where(Wallet.organisation_id == organisation_id)
    )
    return value or 0


def ensure_wallet(organisation_id: int) -> None:
    """Create the organisation's wallet if it has none, in the caller's transaction
    (``INSERT … ON CONFLICT DO NOTHING``: a concurrent first post is no error)."""
    dialect = sqlite if db.session.get_bind().dialect.name == "sqlite" else postgresql
    db.session.execute(
        dialect.insert(Wallet.__table__)
        .values(organisation_id=organisation_id, balance=0, currency="EUR", updated_at=utcnow())
        .on_conflict_do_nothing()
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
    wallets = Wallet.__table__
    mine = wallets.c.organisation_id == organisation_id
    lock = update(wallets).where(mine).values(updated_at=utcnow())
    if not db.session.execute(lock).rowcount:  # the organisation's first post
        ensure_wallet(organisation_id)
        db.session.execute(lock)
    existing = db.session.scalar(select(WalletEntry).where(WalletEntry.key == key))
    if existing is not None:
        return existing
    after = db.session.scalar(
        update(wallets)
        .where(mine, wallets.c.balance + amount >= 0)
        .values(balance=wallets.c.balance + amount)
        .returning(wallets.c.balance)
    )
    if after is None:
        raise InsufficientFunds(balance(organisation_id), amount)
    entry = WalletEntry(
        organisation_id=organisation_id, key=key, kind=kind, amount=amount,
        balance_after=after, reason=reason, reference=reference, user_id=user_id,
    )  # fmt: skip
    db.session.add(entry)
    db.session.flush()
    return entry


def check(organisation_id: int) -> tuple[int, int]:
    """The stored balance and the sum of the ledger: they must be equal."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(WalletEntry.amount), 0)).where(
            WalletEntry.organisation_id == organisation_id
        )
    )
    return balance(organisation_id), int(total)
