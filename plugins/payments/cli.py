"""``guichet payments refund PAYMENT_ID AMOUNT --reason TEXT`` and
``guichet payments reconcile``."""

from __future__ import annotations

import click

from core.plugin_api import PaymentError, db, parse_amount

from . import flow
from .models import Payment


def add_commands(group) -> None:
    @group.group("payments")
    def payments_cli():
        """Online payments."""

    @payments_cli.command("refund")
    @click.argument("payment_id", type=int)
    @click.argument("amount")
    @click.option("--reason", required=True, help="Why (shown to the customer).")
    def refund(payment_id, amount, reason):
        """Refund all or part of a paid payment (a top-up also debits the wallet)."""
        payment = db.session.get(Payment, payment_id)
        if payment is None:
            raise click.BadParameter(f"no payment with id {payment_id}", param_hint="PAYMENT_ID")
        try:
            row = flow.refund(payment, parse_amount(amount), reason)
        except ValueError as error:  # includes the wallet's InsufficientFunds
            db.session.rollback()
            raise click.ClickException(str(error)) from None
        except PaymentError as error:
            raise click.ClickException(f"the provider refused: {error.message}") from None
        click.echo(f"refund {row.provider_id}: {row.amount / 100:.2f} {payment.currency}")

    @payments_cli.command("reconcile")
    def reconcile():
        """Check now the payments left open longer than expected."""
        click.echo(f"{flow.reconcile()} payment(s) checked")
