"""Mollie payments: the payment provider on the official ``mollie-api-python`` client,
and ``guichet mollie serve``, a local server speaking Mollie's API for the demo.

Configuration: ``MOLLIE_API_KEY`` (``test_…`` or ``live_…``) and, to talk to another
server than Mollie's, ``MOLLIE_API_ENDPOINT``. This plugin declares no app: it gives a
provider to the apps that take payments."""

from __future__ import annotations

import click

from core.plugin_api import (
    hookimpl,
)

from .provider import MollieProvider

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports


@hookimpl
def guichet_payment_providers():
    return [MollieProvider]


@hookimpl
def guichet_cli(group):
    @group.group("mollie")
    def mollie_cli():
        """Mollie payments."""

    @mollie_cli.command("serve")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5001, type=int)
    def serve(host, port):
        """Run a local server speaking Mollie's API, with a checkout page (test mode);
        its direct debits are paid three seconds after they are asked."""
        from .local_api import LocalMollie

        click.echo(f"Local Mollie API on http://{host}:{port} (test mode; use any test_… key)")
        LocalMollie(settle_after=3.0).serve(host, port)
