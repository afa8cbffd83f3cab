"""``guichet contracts import FILE``."""

from __future__ import annotations

from core.plugin_api import import_command

from .importing import contracts_from_csv, import_contracts


def add_commands(group) -> None:
    @group.group("contracts")
    def contracts_cli():
        """Contracts."""

    import_command(
        contracts_cli,
        import_contracts,
        "contracts",
        contracts_from_csv,
        help="Import contracts from a JSON file (the API's format) or a CSV file.",
    )
