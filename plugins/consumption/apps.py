"""The consumption apps: "Vos consommations", which shows every product family, and
those the operator declares in ``CONSUMPTION_APPS``, each showing some families."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from core.plugin_api import lazy_gettext as _l

MAIN = {"key": "consumption", "name": _l("Your consumption"), "families": []}


@dataclass(frozen=True)
class ConsumptionApp:
    """One consumption app: its key (also its blueprint's name), its name, the product
    families it shows (all when empty) and the URL it lives under."""

    key: str
    name: object
    families: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return "/consommations" if self.key == MAIN["key"] else f"/consommations/{self.key}"


def configured_apps() -> list[ConsumptionApp]:
    """ "Vos consommations", then the apps of the ``CONSUMPTION_APPS`` setting."""
    declared = [MAIN, *current_app.config.get("CONSUMPTION_APPS", [])]
    return [ConsumptionApp(a["key"], a["name"], tuple(a.get("families") or ())) for a in declared]
