"""The wallet app's public contract: what another app may use of it. An app imports
this module and nothing else of the wallet app (an import-linter contract holds it).
The balance itself is the core's ledger (``ledger`` in the plugin API)."""

from __future__ import annotations

from flask import url_for

from core.plugin_api import Action, app_usable, current_scope
from core.plugin_api import lazy_gettext as _l

APP_KEY = "wallet"


def top_up_action() -> Action | None:
    """ "Top up the balance", for the current member when the wallet app is usable and
    takes top-ups (postal mail offers it when the balance does not cover a letter)."""
    from .views import topup_available

    if not app_usable(APP_KEY) or not topup_available(current_scope().organisation_id):
        return None
    return Action(APP_KEY, _l("Top up the balance"), url_for("wallet.topup"))


__all__ = ["APP_KEY", "top_up_action"]
