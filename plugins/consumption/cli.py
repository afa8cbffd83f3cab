"""``guichet consumption import FILE``."""

from __future__ import annotations

from core.plugin_api import import_command

from .importing import import_consumption, records_from_csv


def add_commands(group) -> None:
    @group.group("consumption")
    def consumption_cli():
        """Consumption."""

    import_command(
        consumption_cli,
        import_consumption,
        "consumption",
        records_from_csv,
        help="Import consumption records from a JSON file (the API's format) or a CSV file.",
    )
