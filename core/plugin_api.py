"""The public plugin API of Guichet: everything a plugin needs, from one module.

A third-party plugin imports from here only; the rest of ``core`` is internal and may
change. ``API_VERSION`` is this API's version; a plugin declares the range it supports
with a module attribute, and a portal whose API is outside it refuses the plugin at
start-up (the operators' plugins page says why)::

    # my_tickets/__init__.py
    from core.plugin_api import App, hookimpl

    GUICHET_API = ">=1.0,<2"

    @hookimpl
    def guichet_apps():
        return [App(key="tickets", name="Mes demandes", endpoint="tickets.index")]

What is here:

- hooks: ``hookimpl`` (the marker; the hooks are documented in ``core.hookspecs``);
- what hooks return: ``App``, ``Widget``, ``MenuItem``, ``SearchResult``, ``Action``,
  ``Selection``, ``PluginBlueprint``, ``ApiImport``, ``PeriodicTask``,
  ``MigrationLocation``;
- data and scope: ``db``, ``TenantMixin``, ``AccountScopedMixin``, ``scoped``,
  ``get_scoped_or_404``, ``current_scope``, ``current_membership``, ``Scope``;
- money and locale: ``money``, ``short_date``;
- documents: ``store_document``, ``stored_path``, ``check_pdf``;
- jobs and events: ``task``, ``backoff``, ``emit``;
- providers: ``PaymentProvider`` (with ``PaymentRequest``, ``RemotePayment``,
  ``Method``, ``Setting``, ``PaymentError``) and ``PostalProvider`` (with
  ``LetterOptions``, ``OutgoingLetter``, ``LetterState``, ``PostalError``).
"""

from core.appinfo import (
    Action,
    ApiImport,
    App,
    MenuItem,
    MigrationLocation,
    PeriodicTask,
    PluginBlueprint,
    SearchResult,
    Selection,
    Widget,
)
from core.appsystem import API_VERSION
from core.documents import check_pdf, stored_path
from core.documents import store as store_document
from core.events import emit
from core.extensions import db
from core.hookspecs import hookimpl
from core.i18n import money, short_date
from core.jobs import backoff, task
from core.models import AccountScopedMixin, TenantMixin
from core.payments import (
    Method,
    PaymentError,
    PaymentProvider,
    PaymentRequest,
    RemotePayment,
    Setting,
)
from core.postal import LetterOptions, LetterState, OutgoingLetter, PostalError, PostalProvider
from core.tenancy import Scope, current_membership, current_scope, get_scoped_or_404, scoped

__all__ = [
    "API_VERSION", "AccountScopedMixin", "Action", "ApiImport", "App", "LetterOptions",
    "LetterState", "MenuItem", "Method", "MigrationLocation", "OutgoingLetter", "PaymentError",
    "PaymentProvider", "PaymentRequest", "PeriodicTask", "PluginBlueprint", "PostalError",
    "PostalProvider", "RemotePayment", "Scope", "SearchResult", "Selection", "Setting",
    "TenantMixin", "Widget", "backoff", "check_pdf", "current_membership", "current_scope",
    "db", "emit", "get_scoped_or_404", "hookimpl", "money", "scoped", "short_date",
    "store_document", "stored_path", "task",
]  # fmt: skip
