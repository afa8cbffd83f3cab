"""``guichet invoices import FILE``."""

from __future__ import annotations

from core.plugin_api import import_command

from .importing import from_csv, import_invoices


def add_commands(group) -> None:
    @group.group("invoices")
    def invoices_cli():
        """Invoices."""

    import_command(
        invoices_cli,
        import_invoices,
        "invoices",
        from_csv,
        help="Import invoices from a JSON file (the API's format) or a CSV file "
        "(one row per invoice line).",
    )
