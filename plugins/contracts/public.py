"""The contracts app's public contract: what another app may use of it. An app imports
this module and nothing else of the contracts app (an import-linter contract holds
it): the invoices and consumption apps offer their links on a contract's page
(``guichet_actions``) when the target is a :class:`Contract`."""

from .models import Contract

APP_KEY = "contracts"

__all__ = ["APP_KEY", "Contract"]
