"""How a charge or a top-up follows its payment: the payment's events move it along
these transitions, once."""

from __future__ import annotations

from sqlalchemy import update

from core.plugin_api import db, utcnow

MOVES = {  # the payment's event -> (the charge's states it moves from, to)
    "paid": (("charging", "pending"), "paid"),
    "failed": (("charging", "pending"), "failed"),
    "canceled": (("charging", "pending"), "failed"),
    "expired": (("charging", "pending"), "failed"),
    "charged_back": (("paid",), "charged_back"),
}


def move_state(model, ident: int, status: str, reason: str = "") -> str | None:
    """Move a charge or a top-up (``model``) as its payment went (``paid``,
    ``failed``, ``charged_back``...), once (a conditional update), and commit;
    returns the state it moved to, or ``None``."""
    move = MOVES.get(status)
    if move is None:
        return None
    sources, target = move
    moved = db.session.execute(
        update(model)
        .where(model.id == ident, model.state.in_(sources))
        .values(state=target, reason=reason, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    return target if moved else None


PAYMENT_OPEN = ("open", "pending", "authorized")  # a payment's statuses before its end


def note_payment(model, ident: int, payment, **values) -> tuple[str, str] | None:
    """Record on the charge or top-up ``ident`` the payment asked for it (``values``
    besides), at the bank (``pending``) unless it moved meanwhile, and commit. The
    payment is read again: its webhook may have come already. Returns its (status,
    problem) when it has ended, for the caller to follow."""
    db.session.refresh(payment)
    row = db.session.get(model, ident)
    row.payment_id, row.updated_at = payment.id, utcnow()
    for name, value in values.items():
        setattr(row, name, value)
    if row.state == "charging":
        row.state = "pending"
    db.session.commit()
    return None if payment.status in PAYMENT_OPEN else (payment.status, payment.problem)
