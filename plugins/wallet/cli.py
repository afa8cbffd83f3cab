"""``guichet wallet adjust ORG_ID AMOUNT --reason TEXT``: an operator's credit or debit."""

from __future__ import annotations

import click

from core.plugin_api import Organisation, audit_record, db, ledger, parse_amount, utcnow


def add_commands(group) -> None:
    @group.group("wallet")
    def wallet_cli():
        """The organisations' prepaid wallets."""

    # a debit is a negative amount: "-92.95" is the amount, not an option
    @wallet_cli.command("adjust", context_settings={"ignore_unknown_options": True})
    @click.argument("org_id", type=int)
    @click.argument("amount")
    @click.option("--reason", required=True, help="Why (shown to the customer).")
    @click.option("--key", help="A unique key; the same key posted again changes nothing.")
    def adjust(org_id, amount, reason, key):
        """Credit (or, negative, debit) a wallet by an operator's adjustment."""
        if db.session.get(Organisation, org_id) is None:
            raise click.BadParameter(f"no organisation with id {org_id}", param_hint="ORG_ID")
        try:
            cents = parse_amount(amount)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="AMOUNT") from None
        key = key or f"adjust:{org_id}:{utcnow().isoformat()}"
        try:
            entry = ledger.post(org_id, "adjustment", cents, key, reason=reason)
            audit_record(
                "wallet.adjust",
                f"organisation:{org_id}",
                organisation_id=org_id,
                after={
                    "amount": cents,
                    "reason": reason,
                    "key": key,
                    "balance_after": entry.balance_after,
                },
            )
        except ledger.InsufficientFunds as error:
            db.session.rollback()
            raise click.ClickException(
                f"the balance ({error.balance / 100:.2f}) does not cover it"
            ) from None
        db.session.commit()
        click.echo(f"balance: {entry.balance_after / 100:.2f}")
