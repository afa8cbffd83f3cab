"""The portal as a newcomer meets it: the demo data of ``guichet demo``, its login, and
every page and widget the demo customer reaches, as the running portal serves them."""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from core.appsystem import registry
from core.extensions import db
from tests.conftest import run_cli
from tests.htmlcheck import boosted_links_inheriting_a_target

LOGIN = re.compile(r"customer: (\S+)  password: (\S+)")


@pytest.fixture
def demo(app, client):
    """``guichet demo``, then its customer logged in with the printed password."""
    result = run_cli(app, "demo")
    assert result.exit_code == 0, result.output
    email, password = LOGIN.search(result.output).groups()
    assert client.login(email, password).status_code == 302
    return client


def customer_pages(app) -> list[str]:
    """Every page without arguments a customer may open (GET), the exports aside."""
    operators = registry(app).operator_blueprints | {"operator"}
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if rule.endpoint.split(".")[0] in operators or rule.rule.startswith("/api/"):
            continue
        if rule.rule.endswith((".csv", ".zip", ".pdf", ".json")) or "webhook" in rule.endpoint:
            continue
        urls.append(rule.rule)
    return sorted(urls)


def test_every_widget_renders_with_the_demo_data(app, demo):
    widgets = registry(app).widgets
    assert "postal.progress" in widgets
    for key in widgets:
        response = demo.htmx("GET", f"/widgets/{key}")
        body = response.get_data(as_text=True)
        if response.status_code == 404:  # the app is not enabled for the demo
            continue
        assert response.status_code == 200, key
        assert "widget-unavailable" not in body, f"widget {key} is unavailable"


def test_no_link_of_a_page_swaps_a_whole_page_into_a_list(app, demo):
    pages = customer_pages(app)
    assert {"/contrats/", "/paiements/", "/courrier/", "/factures/"} <= set(pages)
    for url in pages:
        for htmx in (False, True):
            response = demo.htmx("GET", url) if htmx else demo.get(url)
            assert response.status_code < 500, url
            if response.mimetype != "text/html":
                continue
            found = boosted_links_inheriting_a_target(response.get_data(as_text=True))
            assert found == [], f"{url}: {found}"


def visible_text(page: str) -> str:
    """The text a reader sees: no tags, scripts, styles or attribute values."""
    page = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# a colon, semicolon, question or exclamation mark needs a no-break space before it in
# French; a figure's time (12:30) or a web address is no sentence
BAD_FRENCH_PUNCTUATION = re.compile(r"(?<![\d/])(?:[^\s\d\xa0\u202f(]| )[:;?!](?=\s|$)")


def test_french_pages_set_their_punctuation_in_the_french_way(app, demo):
    for url in customer_pages(app):
        response = demo.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        found = BAD_FRENCH_PUNCTUATION.findall(visible_text(response.get_data(as_text=True)))
        assert found == [], f"{url}: {found}"


@pytest.mark.parametrize(
    "query, group, expected",
    [
        ("Machine", "Vos contrats", "Machine à affranchir"),
        ("Machine", "Vos consommations", "Location machine IJ-25"),
        ("Lyon", "Comptes", "04008041"),
        ("Lyon", "Vos contrats", "04008041 Client 1 – Agence de Lyon"),
        ("00002501", "Comptes", "00002501"),
        ("00002501", "Vos factures", "Facture"),
        ("factures", "Applications", "Vos factures"),
        ("porte-monnaie", "Applications", "Votre porte-monnaie"),
        ("monnaie", "Applications", "Votre porte-monnaie"),
        ("67 520,70", "Vos factures", "Facture 62274737"),
        ("62274", "Vos factures", "Avoir 62274457"),
    ],
)
def test_the_global_search_finds_apps_products_accounts_and_amounts(demo, query, group, expected):
    page = demo.htmx("GET", f"/search?q={query}").get_data(as_text=True)
    groups = dict(re.findall(r"<h2>([^<]+)</h2>(.*?)</section>", page, re.S))
    assert group in groups, f"{query}: {list(groups)}"
    assert expected in html.unescape(groups[group]), groups[group]


def test_the_demo_names_a_complete_issuer_on_its_documents(app, monkeypatch):
    """A newcomer's invoices carry the provider's legal mentions from the first run."""
    monkeypatch.setitem(app.config, "ISSUER", {"name": "Guichet"})
    settings = Path(app.instance_path) / "guichet.toml"
    try:
        result = run_cli(app, "demo")
        assert "issuer of the demo's documents: Guichet Démo SAS" in result.output
        written = tomllib.loads(settings.read_text("utf-8"))["ISSUER"]
        assert written["siret"] == "91234567800011" and app.config["ISSUER"] == written
        again = run_cli(app, "demo")  # written once
        assert settings.read_text("utf-8").count("[ISSUER]") == 1, again.output
    finally:
        settings.unlink(missing_ok=True)


def test_the_terms_of_sale_are_one_click_away(demo):
    page = demo.get("/").get_data(as_text=True)
    assert '<a href="/conditions">Conditions spécifiques de vente</a>' in page
    terms = demo.get("/conditions").get_data(as_text=True)
    assert "<h2>Article 2 — Facturation et paiement</h2>" in terms


def test_the_worker_renders_documents_with_no_server_name(app, org, monkeypatch):
    """``guichet worker`` has no request and, as ``make run`` starts it, no SERVER_NAME:
    what it renders (an invoice's PDF for an e-mail) must not need either."""
    from core.storage import storage
    from plugins.invoices.documents import invoice_pdf
    from plugins.invoices.importing import import_invoices
    from plugins.invoices.models import Invoice
    from tests.conftest import invoice_item

    import_invoices([invoice_item("W-1")])
    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    with app.app_context():  # as a task runs: a context of its own, no request
        invoice = db.session.scalar(select(Invoice))
        assert storage().read(invoice_pdf(invoice)).startswith(b"%PDF")


#: The queries a widget may run, its checks included (the user, the apps enabled).
WIDGET_QUERY_BUDGET = 6


def test_every_widget_runs_a_few_queries_whatever_the_data(app, demo, count_queries):
    """Each widget the demo customer sees runs as many queries with the demo's thousands
    of invoices, contracts and letters as for an organisation that has nothing yet."""
    from core import activation
    from core.demo import DEMO_ORG
    from core.models import Organisation
    from tests.conftest import make_org, make_user

    demo_org = db.session.scalar(select(Organisation).where(Organisation.name == DEMO_ORG))
    empty = make_org("Nothing yet", codes=("77777777",))
    for key in registry(app).apps:
        activation.set_app_enabled(empty, key, key in activation.enabled_app_keys(demo_org.id))
    db.session.commit()
    newcomer = app.test_client()
    assert newcomer.login(make_user("new@nothing.example.com", empty, role="admin").email)
    seen = []
    for key in registry(app).widgets:
        with count_queries() as full:
            response = demo.htmx("GET", f"/widgets/{key}")
        if response.status_code == 404:  # the app is not enabled for the demo
            continue
        with count_queries() as bare:
            assert newcomer.htmx("GET", f"/widgets/{key}").status_code == 200
        assert len(full) == len(bare) <= WIDGET_QUERY_BUDGET, (
            key + "\n" + "\n".join(full.statements)
        )
        seen.append(key)
    assert {"invoices.latest", "contracts.glance", "postal.progress", "wallet.balance"} <= set(seen)
