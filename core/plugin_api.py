"""The public plugin API of Guichet: everything a plugin needs, from one module.

A third-party plugin imports from here only; the rest of ``core`` is internal and may
change. ``API_VERSION`` is this API's version; a plugin declares the range it supports
with a module attribute, and a portal whose API is outside it refuses the plugin at
start-up (the operators' plugins page says why)::

    # guichet_tickets/__init__.py
    from core.plugin_api import App, hookimpl

    GUICHET_API = ">=3.0,<4"

    @hookimpl
    def guichet_apps():
        return [App(key="tickets", name="Mes demandes", endpoint="tickets.index")]

What is here (the plugin guide, ``docs/api.md``, documents each one); the built-in
apps use nothing else of ``core`` either (an import-linter contract holds it):

- hooks: ``hookimpl`` (the marker; the hooks are specified in ``core.hookspecs``);
- what hooks return: ``App``, ``Widget``, ``MenuItem``, ``SearchResult``, ``Action``,
  ``Selection``, ``PluginBlueprint``, ``OperatorPage``, ``ApiImport``,
  ``PeriodicTask``, ``MigrationLocation``, ``Gauge``;
- data and scope: ``db``, ``TenantMixin``, ``AccountScopedMixin``, ``Organisation``,
  ``Account``, ``User``, ``Membership``, ``utcnow``, ``scoped``, ``get_scoped_or_404``,
  ``current_scope``, ``current_membership``, ``permitted_account_ids``, ``Scope``;
  ``app_usable`` and ``enabled_app_keys`` (another app's data is shown only where that
  app may be used), ``organisations_using`` (where a periodic task has work);
  ``audit_record``, ``record_activity`` (the customers' activity trail);
- per-organisation settings: ``app_settings``, ``update_app_settings``,
  ``SettingError``, ``LinesField`` (a setting that is a list, in ``App.settings_form``);
  the installation's are declared by ``App.defaults``;
- pages: ``render`` (one URL, two renderings), ``form_status`` (422 for a form
  with errors), ``external_url``, ``browser_url``,
  ``error_response``, ``allow_form_action``, ``csrf``, ``limiter``,
  ``language_choices``, and lists with ``Listing``, ``StatusListing``,
  ``read_listing``, ``read_page``, ``page_rows``, ``PAGE_SIZES``, ``COUNT_LIMIT``,
  ``selected_ids``, ``starts_with`` (a prefix search an index answers),
  ``distinct_values`` (an organisation's distinct values, hopping along an index); another app's
  filters on a list (``guichet_list_filters`` gives ``ListFilter`` values), read with
  ``read_added`` and applied with ``apply_added``;
- CSV exports: ``Dialect``, ``requested_dialect``, ``stream_rows``, ``csv_text``,
  ``csv_response``;
- money and locale: ``money``, ``short_date``; translation: ``gettext``, ``pgettext``,
  ``ngettext``, ``lazy_gettext``, ``lazy_pgettext``;
- documents of other apps' objects: ``document_file`` and ``document_formats``
  (``guichet_document_formats`` gives ``DocumentFormat`` values rendering a
  ``DocumentFile``), ``NoSuchFormat``, ``FormatRefused`` (this object cannot be had
  in this format, and why), ``send_document`` (the answer that serves one);
- the document storage (:mod:`core.storage`: a folder, or S3-compatible object
  storage): ``storage`` (``put``, ``open``, ``read``, ``chunks``, ``sizes``, ``exists``,
  ``delete``, ``keys_under``), ``StorageError`` (unreachable or refusing: answered 503),
  ``DocumentMissing``, ``DocumentCorrupt``; ``Storage``, the interface, and
  ``LocalStorage``, a folder behind it (a print shop's outbox);
- documents: ``store_document``, ``stored_key``, ``read_stored``, ``check_pdf``,
  ``decode_pdf``, ``encode_pdf``, ``document_digest``, ``pdf_limits``,
  ``declared_pages``, ``inflate_pages``, ``render_pdf``, ``embed_fonts``,
  ``FONTS_FOLDER``, ``PDF_RENDERER``, ``issuer_missing``;
- imports (``guichet_api_imports``): ``ImportResult``, ``ImportRejected``, ``Fault``;
  an item declared as an ``ImportItem`` model with ``text_field``, ``parsed_field``,
  ``choice_field``, ``client_code_field``, ``currency_field``, ``list_field`` and
  ``FieldErrors``, read with ``read_batch``; the parsers (``parse_amount``, ``parse_date``,
  ``parse_bool``, ``decimal_parser``), ``accounts_by_code``, ``rows_matching``,
  ``refuse_moves``, ``fingerprint``, ``insert_rows``, ``import_command``;
- jobs, events and e-mail: ``task``, ``backoff``, ``when_context_ends``, ``resume_stuck``, ``emit``,
  ``send_email``, ``mail_configured``, ``admin_emails``, ``organisation_language``,
  ``organisation_names``;
- money: ``ledger``, the organisations' prepaid wallets (``ledger.post``,
  ``ledger.balance``, ``ledger.InsufficientFunds``, ``ledger.WalletEntry``);
- payments: what a payment is for, ``PaymentPurpose`` (with ``PaymentChange``,
  ``PaymentFacts``, ``PurposeOutcome``, ``payment_purposes``, ``serve_purpose``), and
  ``collection_holds`` (the invoices another app says not to chase now);
- providers: ``PaymentProvider`` (with ``PaymentRequest``, ``RemotePayment``,
  ``MandateRequest``, ``RemoteMandate``, ``Method``, ``Setting``, ``PaymentError``,
  ``payment_provider``, ``payment_providers``, ``payment_may_move``, ``PAYMENT_FINAL``) and
  ``PostalProvider`` (with ``LetterOptions``, ``OutgoingLetter``, ``LetterState``,
  ``PostalError``, ``postal_provider``, ``postal_providers``, ``letter_may_move``,
  ``LETTER_STATUSES``, ``LETTER_FINAL``, ``LETTER_REFUNDED``) and
  ``EinvoicingPlatform`` (with ``Deposit``, ``PlatformStatus``, ``PlatformError``,
  ``einvoicing_platform``, ``einvoicing_platforms``), and ``StandIn``, the local
  server that stands in for such a service in the tests and the demo;
- accounts: ``check_password``, ``set_password``, ``MIN_PASSWORD_LENGTH``,
  ``NewPasswordForm``;
  ``LOCK_TIMEOUT``.

Templates of a plugin extend ``base.html`` (the page shell, block ``content``) and may
import the shared macros of ``macros.html`` (``field``, ``pager``, ``listing_showing``,
``sort_header``, ``choice_filter``, ``switch``...).
"""

from core import ledger
from core.activation import (
    SettingError,
    app_settings,
    enabled_app_keys,
    organisations_using,
    update_app_settings,
)
from core.activity import record_activity
from core.appinfo import (
    Action,
    ApiImport,
    App,
    DocumentFile,
    DocumentFormat,
    Gauge,
    ListFilter,
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
from core.audit import record as audit_record
from core.auth import NewPasswordForm
from core.config import LOCK_TIMEOUT
from core.csvexport import Dialect, csv_response, csv_text, requested_dialect, stream_rows
from core.directory import organisation_names
from core.documents import (
    FONTS_FOLDER,
    check_pdf,
    declared_pages,
    decode_pdf,
    embed_fonts,
    encode_pdf,
    inflate_pages,
    issuer_missing,
    pdf_limits,
    read_stored,
    render_pdf,
    stored_key,
)
from core.documents import RENDERER as PDF_RENDERER
from core.documents import digest as document_digest
from core.documents import store as store_document
from core.errors import error_response
from core.events import emit
from core.extensions import csrf, db, limiter
from core.favourites import app_usable
from core.formats import (
    FormatRefused,
    NoSuchFormat,
    document_file,
    document_formats,
    send_document,
)
from core.forms import LinesField
from core.hookspecs import hookimpl
from core.i18n import (
    gettext,
    language_choices,
    lazy_gettext,
    lazy_pgettext,
    money,
    ngettext,
    pgettext,
    short_date,
)
from core.import_items import (
    FieldErrors,
    ImportItem,
    choice_field,
    client_code_field,
    currency_field,
    list_field,
    parsed_field,
    read_batch,
    text_field,
)
from core.importing import (
    Fault,
    ImportRejected,
    ImportResult,
    accounts_by_code,
    decimal_parser,
    fingerprint,
    import_command,
    insert_rows,
    parse_amount,
    parse_bool,
    parse_date,
    refuse_moves,
    rows_matching,
)
from core.jobs import backoff, resume_stuck, task, when_context_ends
from core.listing import (
    COUNT_LIMIT,
    PAGE_SIZES,
    Listing,
    StatusListing,
    apply_added,
    distinct_values,
    page_rows,
    read_added,
    read_listing,
    read_page,
    selected_ids,
    starts_with,
)
from core.mailing import admin_emails, mail_configured, organisation_language, send_email
from core.models import (
    Account,
    AccountScopedMixin,
    Membership,
    Organisation,
    TenantMixin,
    User,
    utcnow,
)
from core.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from core.passwords import check_password, set_password
from core.payments import FINAL as PAYMENT_FINAL
from core.payments import (
    MandateRequest,
    Method,
    PaymentChange,
    PaymentError,
    PaymentFacts,
    PaymentProvider,
    PaymentPurpose,
    PaymentRequest,
    PurposeOutcome,
    RemoteMandate,
    RemotePayment,
    Setting,
    collection_holds,
    payment_provider,
    payment_providers,
    payment_purposes,
    serve_purpose,
)
from core.payments import may_move as payment_may_move
from core.platforms import (
    Deposit,
    EinvoicingPlatform,
    PlatformError,
    PlatformStatus,
    einvoicing_platform,
    einvoicing_platforms,
)
from core.postal import FINAL as LETTER_FINAL
from core.postal import REFUNDED as LETTER_REFUNDED
from core.postal import STATUSES as LETTER_STATUSES
from core.postal import (
    LetterOptions,
    LetterState,
    OutgoingLetter,
    PostalError,
    PostalProvider,
    postal_provider,
    postal_providers,
)
from core.postal import may_move as letter_may_move
from core.rendering import browser_url, external_url, form_status, render
from core.security import allow_form_action
from core.standin import StandIn
from core.storage import (
    DocumentCorrupt,
    DocumentMissing,
    LocalStorage,
    Storage,
    StorageError,
    storage,
)
from core.tenancy import (
    Scope,
    current_membership,
    current_scope,
    get_scoped_or_404,
    permitted_account_ids,
    scoped,
)

__all__ = [
    "API_VERSION",
    "Account",
    "AccountScopedMixin",
    "Action",
    "ApiImport",
    "App",
    "Dialect",
    "DocumentFile",
    "Deposit",
    "DocumentFormat",
    "EinvoicingPlatform",
    "FONTS_FOLDER",
    "Fault",
    "FieldErrors",
    "FormatRefused",
    "ImportItem",
    "ImportRejected",
    "ImportResult",
    "LETTER_FINAL",
    "LETTER_REFUNDED",
    "LETTER_STATUSES",
    "LOCK_TIMEOUT",
    "LetterOptions",
    "LetterState",
    "LinesField",
    "ListFilter",
    "Listing",
    "MIN_PASSWORD_LENGTH",
    "Membership",
    "MenuItem",
    "NewPasswordForm",
    "MandateRequest",
    "Method",
    "MigrationLocation",
    "NoSuchFormat",
    "OperatorPage",
    "Gauge",
    "Organisation",
    "OutgoingLetter",
    "COUNT_LIMIT",
    "PAGE_SIZES",
    "PAYMENT_FINAL",
    "PDF_RENDERER",
    "PaymentError",
    "PaymentChange",
    "PaymentFacts",
    "PaymentProvider",
    "PaymentPurpose",
    "PaymentRequest",
    "PurposeOutcome",
    "PeriodicTask",
    "PlatformError",
    "PlatformStatus",
    "PluginBlueprint",
    "PostalError",
    "PostalProvider",
    "RemoteMandate",
    "RemotePayment",
    "Scope",
    "SearchResult",
    "Selection",
    "Setting",
    "SettingError",
    "StandIn",
    "StatusListing",
    "TenantMixin",
    "User",
    "Widget",
    "accounts_by_code",
    "allow_form_action",
    "app_settings",
    "app_usable",
    "apply_added",
    "audit_record",
    "record_activity",
    "backoff",
    "browser_url",
    "check_password",
    "check_pdf",
    "choice_field",
    "client_code_field",
    "csrf",
    "csv_response",
    "csv_text",
    "current_membership",
    "currency_field",
    "current_scope",
    "db",
    "decimal_parser",
    "declared_pages",
    "decode_pdf",
    "distinct_values",
    "document_digest",
    "document_file",
    "document_formats",
    "einvoicing_platform",
    "einvoicing_platforms",
    "embed_fonts",
    "emit",
    "enabled_app_keys",
    "organisations_using",
    "collection_holds",
    "encode_pdf",
    "error_response",
    "external_url",
    "fingerprint",
    "form_status",
    "get_scoped_or_404",
    "hookimpl",
    "import_command",
    "inflate_pages",
    "insert_rows",
    "issuer_missing",
    "language_choices",
    "gettext",
    "pgettext",
    "ngettext",
    "lazy_gettext",
    "lazy_pgettext",
    "ledger",
    "letter_may_move",
    "limiter",
    "list_field",
    "mail_configured",
    "admin_emails",
    "organisation_language",
    "organisation_names",
    "money",
    "page_rows",
    "parse_amount",
    "parse_bool",
    "parse_date",
    "parsed_field",
    "payment_may_move",
    "payment_provider",
    "payment_providers",
    "payment_purposes",
    "send_document",
    "serve_purpose",
    "pdf_limits",
    "permitted_account_ids",
    "postal_provider",
    "postal_providers",
    "read_batch",
    "read_added",
    "read_listing",
    "read_page",
    "refuse_moves",
    "render",
    "render_pdf",
    "requested_dialect",
    "resume_stuck",
    "rows_matching",
    "scoped",
    "selected_ids",
    "send_email",
    "set_password",
    "short_date",
    "starts_with",
    "store_document",
    "stored_key",
    "read_stored",
    "storage",
    "Storage",
    "LocalStorage",
    "StorageError",
    "DocumentMissing",
    "DocumentCorrupt",
    "stream_rows",
    "task",
    "text_field",
    "update_app_settings",
    "utcnow",
    "when_context_ends",
]
