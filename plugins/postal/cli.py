"""``guichet postal poll``."""

from __future__ import annotations

import click

from . import sending


def add_commands(group) -> None:
    @group.group("postal")
    def postal_cli():
        """Letters sent by post."""

    @postal_cli.command("poll")
    def poll():
        """Read the print shop's status files now (the worker does every 5 minutes)."""
        click.echo(f"{sending.poll()} letter(s) changed")
