"""``guichet reminders run [--dry-run] [--date YYYY-MM-DD]``."""

from __future__ import annotations

from datetime import date

import click

from .sending import run


def add_commands(group: click.Group) -> None:
    @group.group("reminders")
    def reminders_cli():
        """Payment reminders."""

    @reminders_cli.command("run")
    @click.option("--dry-run", is_flag=True, help="List what would be sent; send nothing.")
    @click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run as of this day.")
    def run_command(dry_run, day):
        """Send today's reminders (the worker does it every morning)."""
        found = run(day.date() if day else date.today(), dry_run=dry_run)
        for planned in found:
            for row in planned.invoices:
                click.echo(
                    f"organisation {planned.organisation_id}  day {planned.step.days:+d} "
                    f"({planned.step.audience})  invoice {row.number}  due {row.due_on}  "
                    f"{row.due / 100:.2f}"
                )
        total = sum(len(p.invoices) for p in found)
        click.echo(f"{total} reminder(s) {'would be sent' if dry_run else 'queued'}")
