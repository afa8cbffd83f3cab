"""The public plugin API of Guichet: everything a plugin needs, from one module.

A third-party plugin imports from here only; the rest of ``core`` is internal and may
change. ``API_VERSION`` is this API's version; a plugin declares the range it supports
with a module attribute, and a portal whose API is outside it refuses the plugin at
start-up (the operators' plugins page says why)::

    # guichet_tickets/__init__.py
    from core.plugin_api import App, hookimpl

    GUICHET_API = ">=1.0,<2"

    @hookimpl
    def guichet_apps():
        return [App(key="tickets", name="Mes demandes", endpoint="tickets.index")]

What is here (the plugin guide documents each one):

- hooks: ``hookimpl`` (the marker; the hooks are specified in ``core.hookspecs``);
- what hooks return: ``App``, ``Widget``, ``MenuItem``, ``SearchResult``, ``Action``,
  ``Selection``, ``PluginBlueprint``, ``OperatorPage``, ``ApiImport``,
  ``PeriodicTask``, ``MigrationLocation``;
- data and scope: ``db``, ``TenantMixin``, ``AccountScopedMixin``, ``Organisation``,
  ``Account``, ``User``, ``utcnow``, ``scoped``, ``get_scoped_or_404``,
  ``current_scope``, ``current_membership``, ``Scope``; ``app_usable`` (another app's
  data is shown only where that app may be used);
- per-organisation settings: ``app_settings``, ``update_app_settings``,
  ``SettingError``;
- pages: ``render`` (one URL, two renderings), ``external_url``, and lists with
  ``Listing``, ``StatusListing``, ``read_listing``, ``page_rows``, ``PAGE_SIZES``;
- money and locale: ``money``, ``short_date``;
- documents: ``store_document``, ``stored_path``, ``check_pdf``;
- imports (``guichet_api_imports``): ``ImportResult``, ``ImportRejected``, ``Fault``;
- jobs, events and e-mail: ``task``, ``backoff``, ``emit``, ``send_email``,
  ``mail_configured``;
- providers: ``PaymentProvider`` (with ``PaymentRequest``, ``RemotePayment``,
  ``Method``, ``Setting``, ``PaymentError``) and ``PostalProvider`` (with
  ``LetterOptions``, ``OutgoingLetter``, ``LetterState``, ``PostalError``).

Templates of a plugin extend ``base.html`` (the page shell, block ``content``) and may
import the shared macros of ``macros.html`` (``field``, ``pager``, ``listing_showing``,
``sort_header``, ``choice_filter``, ``switch``...).
"""

from core.activation import SettingError, app_settings, update_app_settings
from core.appinfo import (
    Action,
    ApiImport,
    App,
    MenuItem,
    MigrationLocation,
    OperatorPage,
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
from core.favourites import app_usable
from core.hookspecs import hookimpl
from core.i18n import money, short_date
from core.importing import Fault, ImportRejected, ImportResult
from core.jobs import backoff, task
from core.listing import PAGE_SIZES, Listing, StatusListing, page_rows, read_listing
from core.mailing import mail_configured, send_email
from core.models import Account, AccountScopedMixin, Organisation, TenantMixin, User, utcnow
from core.payments import (
    Method,
    PaymentError,
    PaymentProvider,
    PaymentRequest,
    RemotePayment,
    Setting,
)
from core.postal import LetterOptions, LetterState, OutgoingLetter, PostalError, PostalProvider
from core.rendering import external_url, render
from core.tenancy import Scope, current_membership, current_scope, get_scoped_or_404, scoped

__all__ = [
    "API_VERSION", "PAGE_SIZES", "Account", "AccountScopedMixin", "Action", "ApiImport", "App",
    "Fault", "ImportRejected", "ImportResult", "LetterOptions", "LetterState", "Listing",
    "MenuItem", "Method", "MigrationLocation", "OperatorPage", "Organisation", "OutgoingLetter",
    "PaymentError", "PaymentProvider", "PaymentRequest", "PeriodicTask", "PluginBlueprint",
    "PostalError", "PostalProvider", "RemotePayment", "Scope", "SearchResult", "Selection",
    "Setting", "SettingError", "StatusListing", "TenantMixin", "User", "Widget", "app_settings",
    "app_usable", "backoff", "check_pdf", "current_membership", "current_scope", "db", "emit",
    "external_url", "get_scoped_or_404", "hookimpl", "mail_configured", "money", "page_rows",
    "read_listing", "render", "scoped", "send_email", "short_date", "store_document", "stored_path",
    "task", "update_app_settings", "utcnow",
]  # fmt: skip
