"""The hooks a Guichet plugin can implement.

A plugin is a module (or object) registered under the ``guichet`` entry-point group;
it implements any of these hooks with the ``hookimpl`` marker::

    from core.hookspecs import hookimpl
    from core.appinfo import App

    @hookimpl
    def guichet_apps():
        return [App(key="tickets", name="Mes demandes", endpoint="tickets.index")]

Hooks marked *per organisation* only reach the plugins that own an app enabled for
the current organisation (plugins that declare no app are always reached). A hook
implementation that raises is contained: the error is logged with the plugin's name
and the call goes on with the other plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from core.appinfo import (
        Action,
        ApiImport,
        App,
        DocumentFormat,
        Gauge,
        ListFilter,
        MenuItem,
        MigrationLocation,
        OperatorPage,
        PeriodicTask,
        PluginBlueprint,
        SearchResult,
    )
    from core.models import Organisation, User
    from core.payments import PaymentProvider, PaymentPurpose
    from core.platforms import EinvoicingPlatform
    from core.postal import PostalProvider
    from core.tenancy import Scope

PROJECT = "guichet"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Hooks called for an organisation: only the plugins whose apps it has enabled (and
#: plugins that declare no app) are reached. The reference in ``docs/hooks.md`` says
#: the same of each hook, and a test holds both to it.
PER_ORGANISATION = frozenset(
    {"guichet_menu_items", "guichet_search", "guichet_actions", "guichet_tabs", "guichet_event"}
)


@hookspec
def guichet_apps() -> list[App]:
    """Declare the apps this plugin provides: their manifests, with everything static
    about them (pages, widgets, menu entries, settings). Called once at start-up.

    Returns a list of :class:`core.appinfo.App`. Example::

        bp = Blueprint("invoices", __name__, template_folder="templates")
        return [App(key="invoices", name=_l("Vos factures"), endpoint="invoices.index",
                    section=_l("Contrats et Factures"), blueprint=bp, url_prefix="/factures",
                    widgets=(Widget("invoices.latest", title=_l("Dernières factures"),
                                    endpoint="invoices.widget"),),
                    menu=(MenuItem(order=20),))]
    """


@hookspec
def guichet_blueprints() -> list[PluginBlueprint]:
    """Give blueprints beside the apps' own (``App.blueprint``): an ungated one (a
    payment provider's webhook, which carries no session) or the operators' pages of
    an app. Called once at start-up.

    Returns a list of :class:`core.appinfo.PluginBlueprint`; the core registers them,
    answers 404 on a gated blueprint for organisations without its app, and keeps an
    operators' one for operators. Example::

        desk = Blueprint("tickets_desk", __name__, template_folder="templates")
        return [PluginBlueprint(desk, app_key=None, url_prefix="/operator/demandes",
                                operators=True)]
    """


@hookspec
def guichet_menu_items(user: User, organisation: Organisation) -> list[MenuItem]:
    """Give header menu entries that depend on this user in this organisation (an
    app's own entries are in its manifest, ``App.menu``). *Per organisation.*

    Returns a list of :class:`core.appinfo.MenuItem`; entries of disabled apps are
    dropped by the core. Example::

        return [MenuItem(app_key="account", section=_l("Mon compte"),
                         label=_l("Mon profil"), endpoint="account.profile")]
    """


@hookspec
def guichet_operator_pages() -> list[OperatorPage]:
    """Link pages of the operators' back-office from its menu. *Not per organisation*:
    operators work across organisations. The pages live on a blueprint given with
    ``PluginBlueprint(bp, app_key=None, operators=True)``, which the core keeps for
    operators. Example::

        return [OperatorPage(_l("Customer requests"), "tickets_desk.index")]
    """


@hookspec
def guichet_metrics() -> list[Gauge]:
    """Give figures for ``/metrics``: :class:`core.appinfo.Gauge` values, read when
    Prometheus asks. *Not per organisation*. A gauge whose ``read`` raises is left out
    of that answer (and logged). Example::

        return [Gauge("guichet_letters", "Letters by status.", ("status",), letters_by_status)]
    """


@hookspec
def guichet_search(query: str, scope: Scope) -> list[SearchResult]:
    """Answer the global search box within ``scope``. *Per organisation.*

    ``query`` is the stripped text typed by the user (at least 2 characters);
    ``scope`` is the :class:`core.tenancy.Scope` in force. Use
    ``core.tenancy.scoped(Model)`` so results never leave it. Example::

        rows = db.session.scalars(scoped(Invoice).where(Invoice.number.startswith(query)))
        return [SearchResult("invoices", f"Facture {r.number}", url_for(...)) for r in rows]
    """


@hookspec
def guichet_actions(target: Any) -> list[Action]:
    """Offer actions on an object shown by another app, such as an invoice's detail
    page. *Per organisation.* ``target`` is the object (an ORM row); return ``[]`` for
    objects you do not handle. Example::

        if isinstance(target, Invoice) and target.status == "to_pay":
            return [Action("payments", _l("Payer"), url_for("payments.pay", invoice_id=target.id))]
    """


@hookspec
def guichet_tabs(app_key: str) -> list[MenuItem]:
    """Add a tab to another app's pages (the invoices app shows "Factures" and the tabs
    others add, such as "Notifications"). *Per organisation*: the tab shows only when
    the item's app is usable. ``app_key`` is the app whose pages are drawn. Example::

        if app_key == "invoices":
            return [MenuItem("notifications", "", _l("Notifications"), "notifications.index")]
    """


@hookspec
def guichet_periodic_tasks() -> list[PeriodicTask]:
    """Declare tasks the job queue runs on a schedule (``guichet worker`` runs them).
    *Not per organisation*: the task decides which organisations it concerns. Example::

        return [PeriodicTask("invoices.digest", crontab(hour="7", minute="0"), send_digests)]
    """


@hookspec
def guichet_event(name: str, payload: dict[str, Any]) -> None:
    """React to a domain event such as ``invoice.created`` or ``payment.paid``.
    *Per organisation* when the event belongs to one.

    ``payload`` is a JSON-serialisable dict; it carries ``organisation_id`` when the
    event belongs to an organisation (then only plugins enabled for it are reached).
    The return value is ignored. Example::

        if name == "invoice.created":
            queue_notification(payload["invoice_id"])
    """


@hookspec
def guichet_document_formats() -> list[DocumentFormat]:
    """Give renderings of this plugin's objects: :class:`core.appinfo.DocumentFormat`
    values (the invoice as PDF; later Factur-X, UBL). Other apps ask for a document
    with ``document_file(obj, "pdf")`` and never import the app that makes it.
    *Not per organisation*: collected once; a caller offers an object's documents only
    where the object's app is usable. Example::

        def pdf(invoice):
            return DocumentFile(invoice_pdf(invoice), "application/pdf", f"{invoice.number}.pdf")

        return [DocumentFormat("pdf", "invoices", Invoice, "PDF", "application/pdf", pdf)]
    """


@hookspec
def guichet_list_filters(list_key: str) -> list[ListFilter]:
    """Add filters to another app's list: :class:`core.appinfo.ListFilter` values for
    the list named ``list_key`` (``"invoices"``: the invoice list, whose select is of
    ``Invoice``). The list shows each in its advanced search and applies it to its
    pages, CSV and ZIPs, where the member may use the filter's app. *Not per
    organisation*: collected once per list. Example::

        if list_key == "invoices":
            def overdue_since(query, days):
                return query.where(Invoice.due_on < date.today() - timedelta(int(days)))
            choices = lambda: [("30", "30 days"), ("90", "90 days")]
            return [ListFilter("late", "reminders", "Overdue for", choices, overdue_since)]
        return []
    """


@hookspec
def guichet_payment_providers() -> list[type[PaymentProvider]]:
    """Offer payment providers: subclasses of :class:`core.payments.PaymentProvider`
    (create a payment, fetch its state, refund, the settings it reads). *Not per
    organisation*; the core makes one instance per app and uses the one configured
    (``PAYMENT_PROVIDER``). Example::

        class Stripe(PaymentProvider):
            key, name = "stripe", "Stripe"
            settings = (Setting("STRIPE_KEY", "The secret API key"),)
            def create(self, request): ...

        return [Stripe]
    """


@hookspec
def guichet_payment_purposes() -> list[PaymentPurpose]:
    """Say what a payment made for a purpose does to this plugin's data: returns
    :class:`core.payments.PaymentPurpose` values whose handlers run inside the
    payment's locked transaction when it is paid, fails, is refunded or charged
    back. The payments app writes no other app's table: the app that owns the data
    registers what happens to it. *Not per organisation*: money that arrived is
    applied even where the app was switched off meanwhile (its data stays, and comes
    back with it). Example::

        def credit(change):
            ledger.post(change.payment.organisation_id, "topup", change.amount, change.key)

        return [PaymentPurpose("topup", app_key="wallet", on_paid=credit)]
    """


@hookspec
def guichet_collection_holds(invoice_ids: list[int]) -> dict[int, str]:
    """Say which of these invoices (the invoices app's ids, of a few hundred
    organisations at most) must not be chased for payment now, and why: a dispute
    open, a refusal. Returns ``{invoice_id: reason}`` for those only; the reminders
    app skips them (and logs the reason) and asks again on its next run, so a hold
    lifted lets the chase go on.
    *Not per organisation*. Example (the e-invoicing app)::

        disputed = latest_status_is(invoice_ids, ("207", "210"))
        return {i: "disputed by the buyer" for i in disputed}
    """


@hookspec
def guichet_personal_data(user: User) -> dict[str, Any] | None:
    """What this plugin keeps about ``user`` (a person's right of access): a
    JSON-serialisable dict, or ``None`` when it keeps nothing. The user's export
    (``/mes-donnees.json``) puts each answer under the plugin's name, beside the
    core's (profile, memberships, sessions, activity).
    *Not per organisation*: a user's data in every organisation. Example (the
    notifications app)::

        rows = db.session.scalars(select(Subscription).where(Subscription.user_id == user.id))
        return {"addresses": [{"email": r.email, "kinds": r.kinds} for r in rows]}
    """


@hookspec
def guichet_erase_user(user: User) -> None:
    """An operator erases ``user`` (a person's right to erasure): delete or anonymise
    what this plugin keeps about them as a person, and keep what the law makes you
    keep (payments, invoices, letters sent: accounting records), which then points at
    an anonymous user. Runs in the erasure's transaction, before the core blanks the
    user (``user.email`` is still theirs); never commit.
    *Not per organisation*. Example (the notifications app)::

        db.session.execute(delete(Subscription).where(Subscription.user_id == user.id))
    """


@hookspec
def guichet_einvoicing_platforms() -> list[type[EinvoicingPlatform]]:
    """Offer approved e-invoicing platforms: subclasses of
    :class:`core.platforms.EinvoicingPlatform` (transmit an e-invoice, report the
    statuses of those it carried). *Not per organisation*; the core makes one instance
    per app and the e-invoicing app uses ``EINVOICING_PLATFORM``. Example::

        class Chorus(EinvoicingPlatform):
            key, name = "chorus", "Chorus Pro"
            def transmit(self, deposit): ...
            def statuses(self, cursor): ...

        return [Chorus]
    """


@hookspec
def guichet_postal_providers() -> list[type[PostalProvider]]:
    """Offer postal providers: subclasses of :class:`core.postal.PostalProvider`
    (price a letter, submit it with its print-ready PDF, report its state, cancel it).
    *Not per organisation*; the core makes one instance per app and uses
    ``POSTAL_PROVIDER`` or the first one. Example::

        class Maileva(PostalProvider):
            key, name = "maileva", "Maileva"
            def submit(self, letter): ...

        return [Maileva]
    """


@hookspec
def guichet_api_imports() -> list[ApiImport]:
    """Batch imports the provider's billing system calls through the API, behind the
    operators' bearer tokens, each with the model of its items (an ``ImportItem``),
    which the OpenAPI document publishes. *Not per organisation.* Example::

        return [ApiImport("invoices", import_invoices, "Create or update invoices",
                          InvoiceItem)]
    """


@hookspec
def guichet_cli(group: click.Group) -> None:
    """Add commands to the ``guichet`` command line. Called when the CLI is built.

    Example::

        @group.command("tickets-purge")
        def purge(): ...
    """


@hookspec
def guichet_demo_data(organisation: Organisation) -> list[str] | None:
    """Load this plugin's demo data into the demo organisation (``guichet demo``).

    Must be idempotent: ``guichet demo`` may run again. Returns lines to print, or
    ``None``. Example::

        import_invoices(DEMO_INVOICES)
        return [f"{len(DEMO_INVOICES)} demo invoices"]
    """


@hookspec
def guichet_migrations() -> MigrationLocation | None:
    """Give this plugin's Alembic history (its own version table), when it is not the
    ``migrations`` folder of the plugin's package, which is found without this hook
    (with the version table ``alembic_version_<plugin>``). Called at start-up.

    The migrations of every installed plugin run on ``guichet db upgrade``, whether
    or not an organisation has enabled its apps. Example::

        return MigrationLocation("tickets", Path(__file__).parent / "migrations",
                                 version_table="alembic_version_tickets")
    """
