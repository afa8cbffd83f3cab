"""The small typed values that hooks return. Plugins build them; the core reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint

from core.storage import read_verified, storage


@dataclass(frozen=True)
class App:
    """An app a customer can use, switched on or off per organisation: its manifest,
    which declares once everything static about it (``guichet_apps`` returns it).

    - ``key`` is stable and unique across all installed plugins (``"invoices"``);
      ``name``, ``description`` and ``icon`` show it; ``endpoint`` is the Flask
      endpoint of its main page; ``section`` is the menu section it goes under.
    - ``default_enabled``: whether a new organisation has it; ``permissions`` may
      hold ``"admin"`` for organisation admins only; ``requires`` names the apps it
      builds on (``("invoices",)``): where one of them is off, this one is off too
      (menu, widgets, routes, hooks), whatever its own switch says.
    - ``blueprint`` (under ``url_prefix``): its pages, gated by the core (404 for an
      organisation that may not use the app, whatever the route).
    - ``widgets``: its dashboard widgets; ``menu``: its entries in the header menu
      (a ``MenuItem()`` with nothing given is the app itself, under its section).
    - ``defaults``: the installation settings it reads, with their defaults (the
      instance's ``guichet.toml`` and ``GUICHET_<NAME>`` override them).
    - ``activity``: the words of the events it records with ``record_activity``
      (``{"download.statement": _l("Statement downloaded")}``), shown in the
      customers' activity trail.
    - ``settings``: its settings per organisation with their defaults (JSON values),
      read with ``app_settings`` and changed with ``update_app_settings``;
      ``settings_form``, a ``FlaskForm`` whose fields are named after them, gives
      the organisation's admins a settings page (``portal.app_settings``).

    Its migrations are found by convention: the ``migrations`` folder beside the
    plugin's module, with the version table ``alembic_version_<plugin>``.
    """

    key: str
    name: Any  # str or a lazy translation
    endpoint: str
    description: Any = ""
    icon: str = "app"
    section: Any = ""
    default_enabled: bool = True
    permissions: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    requires: tuple[str, ...] = ()
    blueprint: Blueprint | None = field(default=None, compare=False)
    url_prefix: str | None = None
    widgets: tuple[Widget, ...] = ()
    menu: tuple[MenuItem, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    settings_form: type | None = field(default=None, compare=False)
    activity: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class PluginBlueprint:
    """A blueprint and the app that owns it: the core answers 404 on its routes for any
    organisation that has not enabled the app. ``app_key=None`` leaves it ungated
    (for example a payment webhook that carries no session). ``operators=True`` makes
    it a back-office blueprint: 404 for everyone but operators, whatever ``app_key``
    (give ``None``), and a login first for anonymous visitors."""

    blueprint: Blueprint
    app_key: str | None
    url_prefix: str | None = None
    operators: bool = False


@dataclass(frozen=True)
class Widget:
    """A dashboard widget: ``endpoint`` renders its HTML fragment. In an app's manifest
    ``app_key`` may be left out: it is the app's."""

    key: str
    app_key: str = ""
    title: Any = ""
    endpoint: str = ""


@dataclass(frozen=True)
class MenuItem:
    """An entry in the header menu, under ``section``. In an app's manifest what is
    left out is the app's: its key, its section, its name and its main page."""

    app_key: str = ""
    section: Any = ""
    label: Any = ""
    endpoint: str = ""
    order: int = 100
    url_args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OperatorPage:
    """A page of the operators' back-office, linked from its menu: ``endpoint`` is on
    a blueprint given with ``PluginBlueprint(..., operators=True)``."""

    label: Any
    endpoint: str
    order: int = 100


@dataclass(frozen=True)
class Gauge:
    """A figure ``/metrics`` reads when Prometheus asks (``guichet_metrics``): its
    ``name`` (``guichet_…``), its ``help``, its label names, and ``read()``, which
    returns the value of each tuple of label values (``{("printed",): 12}``). Keep
    ``read`` to one indexed query: it runs at every scrape."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[], dict[tuple[str, ...], float]]


@dataclass(frozen=True)
class SearchResult:
    """One hit of the global search box."""

    app_key: str
    title: str
    url: str
    subtitle: str = ""


@dataclass(frozen=True)
class Action:
    """An action a plugin offers on an object another app shows ("Payer" on an
    invoice). ``method="post"`` renders a form with the CSRF token."""

    app_key: str
    label: Any
    url: str
    method: str = "get"
    order: int = 100


@dataclass(frozen=True)
class Selection:
    """The rows selected in an app's list, as a ``guichet_actions`` target: an action on
    it is a button of the list's form, which sends the selected ids as ``id`` arguments
    to the action's URL (GET)."""

    app_key: str


@dataclass(frozen=True)
class ApiImport:
    """A batch import of the provider's API: ``POST /api/v1/<name>`` takes
    ``{"<name>": [items]}`` (or the bare list), calls ``importer(items)`` and answers its
    :class:`~core.importing.ImportResult`, or 422 with the faults of
    :class:`~core.importing.ImportRejected`. ``item_model`` is the item's model (an
    :class:`~core.import_items.ImportItem`), whose schema the OpenAPI document
    publishes, and with which the importer reads the batch (``read_batch``).
    ``find(key)``, when given, returns the object of a key (an invoice's number) or
    ``None``: ``GET /api/v1/<name>/<key>/<format>`` then answers its documents, in
    every format the apps give (``pdf``, ``facturx``, ``ubl``)."""

    name: str
    importer: Callable[[list[Any]], Any]
    summary: str
    item_model: type
    find: Callable[[str], Any] | None = None


@dataclass(frozen=True)
class PeriodicTask:
    """A task Huey runs on a schedule: ``schedule`` is a ``huey.crontab(...)``, ``name``
    unique across plugins; ``function()`` runs in the app context, and must be
    idempotent."""

    name: str
    schedule: Callable[[Any], bool]
    function: Callable[[], Any]


@dataclass(frozen=True)
class MigrationLocation:
    """A plugin's own Alembic history: its ``versions`` folder and its version table."""

    plugin: str
    path: Path
    version_table: str


@dataclass(frozen=True)
class DocumentFile:
    """A document ready to send: its key in the document storage (:mod:`core.storage`),
    its media type and the name it is downloaded or attached under. ``sha256``, when
    given, is the digest the file was kept under: reading checks it."""

    key: str
    media_type: str
    filename: str
    sha256: str | None = None

    def read(self) -> bytes:
        """The document's bytes (:class:`core.storage.DocumentCorrupt` when they no
        longer match ``sha256``)."""
        return read_verified(self.key, self.sha256) if self.sha256 else storage().read(self.key)


@dataclass(frozen=True)
class DocumentFormat:
    """A rendering an app gives of its objects (``guichet_document_formats``): the
    invoice as PDF, later Factur-X or UBL. ``model`` is the class of the objects it
    renders (an ORM model), ``render(obj)`` returns the :class:`DocumentFile`. Another
    app asks for "the PDF of this invoice" with ``document_file(invoice, "pdf")``
    instead of importing the app that makes it."""

    key: str
    app_key: str
    model: type
    label: Any
    media_type: str
    render: Callable[[Any], DocumentFile]


@dataclass(frozen=True)
class ListFilter:
    """A filter an app adds to another app's list (``guichet_list_filters``): a choice
    named ``key`` in the list's URL and advanced search, among ``choices()`` (pairs of
    value and label), applied by ``apply(query, value)`` to the list's select of rows,
    so that its pages, count, CSV and ZIPs agree. The e-invoicing app filters the
    invoice list by lifecycle status."""

    key: str
    app_key: str
    label: Any
    choices: Callable[[], list[tuple[str, Any]]]
    apply: Callable[[Any, str], Any]
