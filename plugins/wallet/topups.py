"""What a top-up payment does to the wallet (the ``topup`` payment purpose): paid, it
credits the balance; refunded, it is taken back first (refused when it is spent);
charged back, as much as the balance allows is taken back, and the rest left to the
operators. Every entry is posted under the change's key, so a retry posts nothing."""

from __future__ import annotations

from flask import current_app

from core.plugin_api import PaymentChange, PurposeOutcome, ledger


def credit(change: PaymentChange) -> None:
    payment = change.payment
    ledger.post(
        payment.organisation_id,
        "topup",
        change.amount,
        change.key,
        reason=current_app.config["WALLET_TOPUP_REASON"],
        reference=payment.provider_id or "",
        user_id=payment.user_id,
    )


def refund(change: PaymentChange) -> None:
    """Raises ``ledger.InsufficientFunds`` (a ``ValueError``) when the balance no longer
    holds the amount: the refund is then refused."""
    payment = change.payment
    ledger.post(
        payment.organisation_id,
        "refund",
        -change.amount,
        change.key,
        reason=change.reason,
        reference=payment.provider_id or "",
    )


def refund_failed(change: PaymentChange) -> None:
    payment = change.payment
    ledger.post(
        payment.organisation_id,
        "refund",
        change.amount,
        change.key,
        reason=change.reason,
        reference=payment.provider_id or "",
    )


def charged_back(change: PaymentChange) -> PurposeOutcome | None:
    payment = change.payment
    covered = min(change.amount, ledger.balance(payment.organisation_id))
    if covered:
        ledger.post(
            payment.organisation_id,
            "adjustment",
            -covered,
            change.key,
            reason=f"Rétrofacturation du paiement {payment.provider_id or ''}".strip(),
            reference=payment.provider_id or "",
        )
    if covered < change.amount:
        taken = change.amount
        return PurposeOutcome(
            problem=f"chargeback of {taken} cents, {taken - covered} not in the wallet"
        )
    return None
