"""``guichet autopay run``: the day's automatic payments, or what they would be."""

from __future__ import annotations

from datetime import date

import click

from . import collecting


def add_commands(group: click.Group) -> None:
    @group.group("autopay")
    def autopay_cli():
        """Automatic payment of invoices by SEPA Direct Debit."""

    @autopay_cli.command("run")
    @click.option("--dry-run", is_flag=True, help="List what would be done; do nothing.")
    @click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run as on this day.")
    def run(dry_run, day):
        """Schedule the invoices coming due (with their notice) and charge those due."""
        today = day.date() if day else date.today()
        done = collecting.run(today, dry_run=dry_run)
        if dry_run:
            click.echo(f"would schedule {len(done['scheduled'])}: {' '.join(done['scheduled'])}")
            click.echo(f"would charge {len(done['charged'])}: {' '.join(done['charged'])}")
        else:
            click.echo(f"scheduled {done['scheduled']}, charging {done['charged']}")
