"""Each hook of core.hookspecs, exercised through a sample plugin."""

import io
import zipfile
from datetime import date

import click
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select

from core.activation import set_app_enabled
from core.appsystem import build_plugin_manager, registry
from core.cli import add_plugin_commands
from core.events import emit
from core.extensions import db
from core.hookspecs import hookimpl
from core.models import Account
from core.plugin_api import (
    App,
    DocumentFile,
    DocumentFormat,
    Gauge,
    ListFilter,
    NoSuchFormat,
    document_file,
    document_formats,
    storage,
)
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from tests.conftest import invoice_item, make_app
from tests.sample_plugins import Notes, Recorder


@pytest.fixture(scope="module")
def rec_app(tmp_path_factory, app):
    return make_app(tmp_path_factory.mktemp("rec"), EXTRA_PLUGINS=[Recorder(), Notes()])


def test_hook_guichet_widgets_are_indexed_and_foreign_app_keys_refused(rec_app):
    widgets = registry(rec_app).widgets
    assert widgets["recorder.last"].app_key == "recorder"
    assert "recorder.foreign" not in widgets


def test_hook_guichet_event_reaches_only_plugins_enabled_for_the_organisation(rec_app, org):
    Recorder.events.clear()
    with rec_app.app_context():
        emit("invoice.created", {"organisation_id": org.id, "invoice_id": 7})
        set_app_enabled(org, "recorder", False)
        db.session.commit()
        emit("invoice.created", {"organisation_id": org.id, "invoice_id": 8})
        emit("installation.started", {})  # no organisation: every plugin
    assert Recorder.events == [
        ("invoice.created", {"organisation_id": org.id, "invoice_id": 7}),
        ("installation.started", {}),
    ]


def test_hook_guichet_tabs_show_on_the_app_they_name_for_enabled_apps_only(rec_app, org, user):
    client = rec_app.test_client()
    client.login(user.email)
    page = client.get("/factures/").get_data(as_text=True)
    assert '<nav aria-label="Rubriques" class="app-tabs">' in page
    assert page.index(">Recorded</a>") < page.index(">Notifications</a>")  # by order
    assert ">Recorded</a>" not in client.get("/contrats/").get_data(as_text=True)
    with rec_app.app_context():
        set_app_enabled(org, "recorder", False)
        db.session.commit()
    assert ">Recorded</a>" not in client.get("/factures/").get_data(as_text=True)


def test_hook_guichet_periodic_tasks_run_on_their_schedule_in_the_worker(rec_app):
    from datetime import datetime

    from core import jobs

    huey = jobs.queue(rec_app)
    due = {t.name for t in huey.read_periodic(datetime(2026, 11, 22, 7, 30))}
    assert {"recorder.tick", "notifications.sweep"} <= due
    assert "notifications.digests" not in due  # 07:00 only
    assert "recorder.tick" not in {t.name for t in huey.read_periodic(datetime(2026, 11, 22, 7, 0))}
    Recorder.ticks.clear()
    huey.flush()
    for task in huey.read_periodic(datetime(2026, 11, 22, 7, 30)):
        if task.name == "recorder.tick":
            huey.enqueue(task)
    assert jobs.drain(rec_app) == 1
    assert Recorder.ticks == [1]


def test_hook_guichet_cli_adds_commands():
    group = click.Group("guichet")
    add_plugin_commands(group, build_plugin_manager([Recorder()], load_entrypoints=False))
    result = CliRunner().invoke(group, ["recorder-hello"])
    assert result.output == "hello from recorder\n"


def test_hook_guichet_blueprints_are_registered_under_their_prefix(rec_app):
    rules = {r.rule for r in rec_app.url_map.iter_rules() if r.endpoint.startswith("notes.")}
    assert rules == {"/notes/", "/notes/<int:account_id>"}
    assert registry(rec_app).blueprint_apps["notes"] == "notes"


def test_hook_guichet_actions_are_offered_on_an_invoice_by_enabled_apps_only(rec_app, org, user):
    from sqlalchemy import select

    from plugins.invoices.importing import import_invoices
    from plugins.invoices.models import Invoice

    import_invoices(
        [
            {
                "number": "777",
                "date": date.today().isoformat(),
                "total_ht": "1.00",
                "total_ttc": "1.20",
                "client_code": org.accounts[0].client_code,
            }
        ]
    )
    invoice_id = db.session.scalar(select(Invoice.id))
    client = rec_app.test_client()
    client.login(user.email)
    page = client.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert 'action="/record/777"' in page and "Record 777" in page
    with rec_app.app_context():
        set_app_enabled(org, "recorder", False)
        db.session.commit()
    assert "Record 777" not in client.get(f"/factures/{invoice_id}").get_data(as_text=True)


class CashProvider:
    """A payment provider as a third party writes one."""

    @staticmethod
    @hookimpl
    def guichet_payment_providers():
        from core.payments import PaymentProvider, RemotePayment, Setting

        class Cash(PaymentProvider):
            key, name = "cash", "Cash desk"
            settings = (Setting("CASH_DESK", "Where to pay"),)

            def create(self, request):
                return RemotePayment("cash-1", "open", request.amount, request.currency, {})

        return [Cash]


def test_hook_guichet_payment_providers_offered_by_plugins_chosen_by_configuration(tmp_path):
    from core.payments import payment_provider, payment_providers

    app = make_app(tmp_path, EXTRA_PLUGINS=[CashProvider()], MOLLIE_API_KEY="")
    with app.app_context():
        assert sorted(payment_providers()) == ["cash", "mollie"]
        assert payment_provider() is None  # neither is configured: online payment is off
        app.config["CASH_DESK"] = "Rue de la Paix"
        assert payment_provider().key == "cash"
        app.config.update(MOLLIE_API_KEY="test_abc", PAYMENT_PROVIDER="mollie")
        assert payment_provider().key == "mollie"


class PigeonPost:
    """A postal provider as a third party writes one."""

    @staticmethod
    @hookimpl
    def guichet_postal_providers():
        from core.postal import PostalProvider

        class Pigeon(PostalProvider):
            key, name = "pigeon", "Pigeon post"
            offers = frozenset({"priority"})

            def price(self, pages, options):
                return 100 + 10 * pages

        return [Pigeon]


def test_hook_guichet_postal_providers_offered_by_plugins_chosen_by_configuration(tmp_path):
    from core.postal import LetterOptions, postal_provider, postal_providers

    app = make_app(tmp_path, EXTRA_PLUGINS=[PigeonPost()])
    with app.app_context():
        assert sorted(postal_providers()) == ["pigeon", "printshop"]
        app.config["POSTAL_PROVIDER"] = "pigeon"
        chosen = postal_provider()
        assert chosen.name == "Pigeon post" and chosen.price(3, LetterOptions()) == 130


def test_hook_guichet_operator_pages_are_linked_from_the_back_office_menu(rec_app, operator):
    client = rec_app.test_client()
    client.login(operator.email)
    menu = client.get("/operator/organisations").get_data(as_text=True)
    assert '<a href="/operator/audit">Recordings</a>' in menu


def test_hook_guichet_api_imports_are_served_behind_tokens_and_published(rec_app):
    from core import api

    with rec_app.app_context():
        _token, clear = api.issue_token("billing")
        db.session.commit()
    client = rec_app.test_client()
    headers = {"Authorization": f"Bearer {clear}"}
    Recorder.recordings.clear()
    answer = client.post(
        "/api/v1/recordings", json={"recordings": [{"name": "a"}]}, headers=headers
    )
    assert answer.status_code == 200 and answer.json["created"] == ["a"]
    refused = client.post("/api/v1/recordings", json=[{"name": "b"}, {}], headers=headers)
    assert refused.status_code == 422
    assert refused.json["faults"] == [{"row": 2, "field": "name", "message": "is required"}]
    assert Recorder.recordings == ["a"]
    assert client.post("/api/v1/recordings", json=[{"name": "c"}]).status_code == 401
    spec = client.get("/api/v1/openapi.json").json
    post = spec["paths"]["/recordings"]["post"]
    assert post["summary"] == "Record names"
    item = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]["items"]
    assert item["required"] == ["name"] and item["properties"]["name"]["maxLength"] == 50


def test_hook_guichet_demo_data_is_loaded_by_guichet_demo(rec_app):
    from tests.conftest import run_cli

    Recorder.demo.clear()
    result = run_cli(rec_app, "demo")
    assert result.exit_code == 0, result.output
    assert "recorder: demo ready" in result.output and Recorder.demo == ["Client 1"]


class AccountSheets:
    """Renders a customer account as a text sheet: a format of an object this plugin
    does not own the class of, which is allowed (the core's ``Account``)."""

    __name__ = "sheets"

    @hookimpl
    def guichet_apps(self):
        return [App(key="sheets", name="Fiches", endpoint="portal.home")]

    @hookimpl
    def guichet_document_formats(self):
        def sheet(account):
            key = f"sheets/sheet-{account.client_code}.txt"
            storage().put(key, f"{account.client_code} {account.name}\n".encode())
            return DocumentFile(key, "text/plain", key.rpartition("/")[2])

        return [DocumentFormat("sheet", "sheets", Account, "Fiche", "text/plain", sheet)]


def test_hook_guichet_document_formats_give_another_apps_documents_by_format(tmp_path, org):
    import_invoices([invoice_item("62274737")])
    invoice = db.session.scalar(select(Invoice))
    pdf = document_file(invoice, "pdf")  # what postal and notifications ask for
    assert (pdf.media_type, pdf.filename) == ("application/pdf", "facture-62274737.pdf")
    text = PdfReader(io.BytesIO(pdf.read())).pages[0].extract_text()
    assert "62274737" in text and "67" in text
    assert [f.key for f in document_formats(invoice)] == ["pdf", "facturx", "ubl"]
    with pytest.raises(NoSuchFormat, match="no 'odt' format for Invoice"):
        document_file(invoice, "odt")

    portal = make_app(tmp_path, EXTRA_PLUGINS=[AccountSheets()])
    with portal.app_context():
        account = db.session.get(Account, org.accounts[0].id)
        sheet = document_file(account, "sheet")
        assert sheet.read() == f"{account.client_code} {account.name}\n".encode()
        assert sheet.filename == f"sheet-{account.client_code}.txt"
        # formats follow classes
        assert [f.key for f in document_formats(invoice)] == ["pdf", "facturx", "ubl"]


class LargeOnes:
    """Adds a filter to the invoice list: the invoices of 1,000 € or more."""

    __name__ = "large"

    @hookimpl
    def guichet_apps(self):
        return [App(key="large", name="Grosses factures", endpoint="portal.home")]

    @hookimpl
    def guichet_list_filters(self, list_key):
        if list_key != "invoices":
            return []

        def at_least(query, euros):
            return query.where(Invoice.total_ttc >= int(euros) * 100)

        choices = lambda: [("1000", "1 000 € ou plus"), ("5000", "5 000 € ou plus")]  # noqa: E731
        return [ListFilter("large", "large", "Montant", choices, at_least)]


def test_hook_guichet_list_filters_narrow_another_apps_list_its_csv_and_zip(tmp_path, org, user):
    import_invoices(
        [
            invoice_item("71000001", total_ht="100", total_ttc="120"),
            invoice_item("71000002", total_ht="2000", total_ttc="2400"),
        ]
    )
    db.session.commit()
    portal = make_app(tmp_path, EXTRA_PLUGINS=[LargeOnes()])
    client = portal.test_client()
    client.login(user.email)
    page = client.get("/factures/?large=1000").get_data(as_text=True)
    assert "/factures/" in page and "71000002" in page and "71000001" not in page
    assert '<option value="1000" selected>1 000 € ou plus</option>' in page
    csv = client.get("/factures/export.csv?large=1000").get_data(as_text=True)
    assert "71000002" in csv and "71000001" not in csv
    zipped = client.get("/factures/archive.zip?all=1&large=1000")
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        assert archive.namelist() == ["facture-71000002.pdf"]
    odd = client.get("/factures/?large=12").get_data(as_text=True)
    assert "71000001" in odd and "71000002" in odd  # set aside, with a message
    assert "Montant : valeur « 12 » inconnue ; elle a été ignorée." in odd.replace("\xa0", " ")

    with portal.app_context():
        set_app_enabled(org, "large", False)
        db.session.commit()
    page = client.get("/factures/?large=1000").get_data(as_text=True)
    assert 'name="large"' not in page and "71000001" in page  # no app, no filter


class Figures:
    """Gives two figures to /metrics: one that reads, one that fails."""

    __name__ = "figures"

    @hookimpl
    def guichet_apps(self):
        return [App(key="figures", name="Chiffres", endpoint="portal.home")]

    @hookimpl
    def guichet_metrics(self):
        def broken():
            raise RuntimeError("the figure's table is gone")

        return [
            Gauge(
                "guichet_tickets_open",
                "Open tickets by urgency.",
                ("urgency",),
                lambda: {
                    ("high",): 3,
                    ("low",): 7,
                },
            ),
            Gauge("guichet_broken", "Never read.", (), broken),
            Gauge("tickets_unprefixed", "Refused: not a guichet_ name.", (), dict),
        ]


def test_hook_guichet_metrics_give_figures_to_prometheus(tmp_path, caplog):
    portal = make_app(tmp_path, EXTRA_PLUGINS=[Figures()], METRICS_TOKEN="scrape")
    answer = portal.test_client().get("/metrics", headers={"Authorization": "Bearer scrape"})
    text = answer.get_data(as_text=True)
    assert 'guichet_tickets_open{urgency="high"} 3.0' in text
    assert 'guichet_tickets_open{urgency="low"} 7.0' in text
    assert "# HELP guichet_letters Letters by status." in text  # the postal app's
    assert "guichet_broken" not in text and "tickets_unprefixed" not in text
    assert "guichet_broken could not be read" in caplog.text
