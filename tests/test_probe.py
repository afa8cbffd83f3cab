"""What an independent probe found (issue 24): hostile hosts and redirects, formulas in
CSV cells, 500s on HTMX requests and on bad API input. Each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from core import api, jobs, ledger
from core.csvexport import safe_cell
from core.documents import encode_pdf
from core.extensions import db
from core.models import User, UserSession, utcnow
from core.testing import HTMX
from plugins.consumption.importing import import_consumption
from plugins.consumption.models import ConsumptionRecord
from plugins.contracts.models import Contract
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice, InvoiceLine
from plugins.payments.models import Payment, PaymentInvoice
from plugins.postal.models import Letter
from plugins.postal.printing import print_ready
from tests.conftest import PASSWORD, invoice_item, make_org, run_cli
from tests.test_postal import all_fonts_embedded, preview

FORMULA = '=HYPERLINK("http://evil.example","x")'


# -- hosts and redirects ---------------------------------------------------------------


def test_a_request_for_another_host_is_refused_and_sends_no_mail(client, user, smtp_server):
    response = client.post(
        "/password/forgot", data={"email": user.email}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 400
    assert smtp_server.messages == []
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400


def test_a_reset_link_is_built_on_the_public_url_whatever_host_was_asked(
    register_plugin, user, smtp_server
):
    """As ``make run`` starts it (no SERVER_NAME), on 127.0.0.1, a host the portal
    answers on: the e-mail's link still names PUBLIC_URL."""
    portal = register_plugin(SERVER_NAME=None, PUBLIC_URL="https://portal.example")
    client = portal.test_client()
    here = "http://127.0.0.1:5000"
    assert client.get("/login", base_url="http://evil.example").status_code == 400
    response = client.post("/password/forgot", data={"email": user.email}, base_url=here)
    assert response.status_code == 302
    jobs.drain(portal)
    [message] = smtp_server.messages
    body = message.get_payload(decode=True).decode()
    links = re.findall(r"https?://\S+", body)
    assert links and all(
        link.startswith("https://portal.example/password/reset/") for link in links
    )


@pytest.mark.parametrize(
    "next_",
    [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r\n/evil.example/",
        "\t//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "//evil.example",
        "/ /evil.example/\x7f",
        "javascript:alert(1)",
    ],
)
def test_next_after_login_never_leaves_the_site_and_never_fails(client, user, next_):
    response = client.login(user.email, next=next_)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_after_login_keeps_a_path_of_the_site(client, user):
    response = client.login(user.email, next="/factures/?status=paid")
    assert response.headers["Location"] == "/factures/?status=paid"


# -- CSV formula injection -------------------------------------------------------------


def test_a_cell_that_starts_a_formula_is_quoted_and_numbers_are_kept():
    assert safe_cell(FORMULA) == "'" + FORMULA
    for text in ("+33 1 40 00 00 00", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text) == "'" + text
    for kept in ("-12,50", "-3.5", "+7", "Lettre verte", "", 12, None):
        assert safe_cell(kept) == kept


def cells(response) -> list[str]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


@pytest.mark.parametrize("dialect", ["fr", "std"])
@pytest.mark.parametrize(
    "url, planted",
    [
        ("/factures/export.csv", "subscriber"),
        ("/factures/export.csv?rows=lines", "line label"),
        ("/consommations/export.csv?group=product", "product"),
        ("/porte-monnaie/export.csv", "reason"),
        ("/courrier/export.csv", "title and recipient"),
    ],
)
def test_no_export_hands_a_formula_to_the_spreadsheet(logged_in, org, dialect, url, planted):
    line = {
        "label": FORMULA,
        "quantity": "1",
        "unit_price_ht": "1",
        "vat_rate": "20",
        "amount_ht": "1.00",
    }
    import_invoices(
        [invoice_item(subscriber=FORMULA, total_ht="1.00", total_ttc="1.20", lines=[line])]
    )
    import_consumption(
        [
            {
                "id": "r1",
                "client_code": "00002501",
                "family": "F",
                "product": FORMULA,
                "period": "2026-11",
                "quantity": "-5",
                "unit": "plis",
                "amount_ht": "-1.00",
            }
        ]
    )
    ledger.post(org.id, "topup", 500, "t1", reason=FORMULA)
    db.session.add(
        Letter(
            organisation_id=org.id,
            account_id=org.accounts[0].id,
            key="l-1",
            provider="printshop",
            document_sha256="0" * 64,
            title=FORMULA,
            pages=1,
            address=[FORMULA, "75015 PARIS"],
            price=145,
        )
    )
    db.session.commit()
    separator = "&" if "?" in url else "?"
    response = logged_in.get(f"{url}{separator}dialect={dialect}")
    assert response.status_code == 200
    found = cells(response)
    assert "'" + FORMULA in found, f"{planted} not exported"
    assert [c for c in found if c.startswith(("=", "+", "@", "\t", "\r"))] == []
    assert [c for c in found if c.startswith("-") and not re.fullmatch(r"-\d+([.,]\d+)?", c)] == []


# -- every route, as a page and as an HTMX request -------------------------------------


LOGGING_OUT = {"auth.logout", "auth.logout_everywhere", "auth.login"}


def routes_never_fail(app, client, skip=()) -> int:
    """Every rule without arguments, by GET and by POST (an empty form), as a page and
    as an HTMX request: none may answer 5xx. Returns the requests made."""
    made = 0
    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.endpoint in skip:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            for headers in ({}, HTMX):
                response = client.open(rule.rule, method=method, headers=headers)
                assert response.status_code < 500, f"{method} {rule.rule} {headers}"
                made += 1
    return made


def test_no_route_answers_5xx_to_a_customer_with_or_without_htmx(app, client):
    result = run_cli(app, "demo")
    email, password = re.search(r"customer: (\S+)  password: (\S+)", result.output).groups()
    assert client.login(email, password).status_code == 302
    assert routes_never_fail(app, client, skip=LOGGING_OUT) > 100
    assert client.get("/").status_code == 200  # still logged in: nothing was skipped by it


def test_no_route_answers_5xx_to_an_operator_with_or_without_htmx(app, client, operator, org):
    assert client.login(operator.email).status_code == 302
    assert routes_never_fail(app, client, skip=LOGGING_OUT) > 100


def test_a_page_asked_for_by_htmx_without_a_content_block_is_the_whole_template(logged_in):
    for url in ("/favourites", "/courrier/nouveau", "/courrier/widget"):
        response = logged_in.get(url, headers=HTMX)
        assert response.status_code in (200, 404), url


# -- bad API input ---------------------------------------------------------------------


@pytest.fixture
def token():
    _token, clear = api.issue_token("billing system")
    db.session.commit()
    return clear


def post(client, path, body, token):
    return client.post(f"/api/v1/{path}", json=body, headers={"Authorization": f"Bearer {token}"})


def line(**values) -> dict:
    data = {
        "label": "Lettre verte",
        "quantity": "1",
        "unit_price_ht": "1.00",
        "vat_rate": "20",
        "amount_ht": "1.00",
    }
    return data | values


@pytest.mark.parametrize(
    "bad, field, message",
    [
        (line(quantity="1" + "0" * 20), "lines[1].quantity", "is too large"),
        (line(quantity="1e3"), "lines[1].quantity", "write it in digits"),
        (line(amount_ht="1e3"), "lines[1].amount_ht", "is not an amount"),
        (line(quantity="1.2345"), "lines[1].quantity", "has more than 3 decimals"),
        (line(vat_rate="5000"), "lines[1].vat_rate", "is too large"),
        (line(unit_price_ht="0.0123456789"), "lines[1].unit_price_ht", "has more than 6 decimals"),
        (line(label="Lettre\x00verte"), "lines[1].label", "contains a NUL character"),
    ],
)
def test_an_invoice_line_beyond_its_column_is_a_422_naming_it(
    client, token, org, bad, field, message
):
    item = invoice_item(total_ht="1.00", total_ttc="1.20", lines=[bad])
    response = post(client, "invoices", [invoice_item("1"), item], token)
    assert response.status_code == 422
    [fault] = response.get_json()["faults"]
    assert (fault["row"], fault["field"]) == (2, field) and message in fault["message"]
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 0


@pytest.mark.parametrize(
    "values, field",
    [
        ({"date": 20220527}, "date"),
        ({"subscriber": "CLIENT\x001"}, "subscriber"),
        ({"recipient": {"name": "A\x00"}}, "recipient.name"),
    ],
)
def test_a_date_written_as_a_number_or_a_nul_character_is_refused(
    client, token, org, values, field
):
    response = post(client, "invoices", [invoice_item(**values)], token)
    assert response.status_code == 422
    assert [f["field"] for f in response.get_json()["faults"]] == [field]
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_a_consumption_quantity_that_overflows_is_a_422(client, token, org):
    record = {
        "id": "r1",
        "client_code": "00002501",
        "family": "F",
        "product": "P",
        "period": "2026-11",
        "quantity": "1" + "0" * 30,
        "unit": "plis",
        "amount_ht": "1.00",
    }
    response = post(client, "consumption", [record], token)
    assert response.status_code == 422
    [fault] = response.get_json()["faults"]
    assert fault["field"] == "quantity" and "is too large" in fault["message"]
    assert db.session.scalar(select(func.count()).select_from(ConsumptionRecord)) == 0


# -- PDFs that cost the server -----------------------------------------------------------


def raw_pdf(
    content: bytes, *, pages: int = 1, deflate: bool = False, catalog: str = "", page: str = ""
) -> bytes:
    """A PDF written by hand: ``pages`` A4 pages drawing ``content`` (deflated as it
    comes when ``deflate``), ``catalog`` added to the document's catalog and ``page``
    to each page's dictionary."""
    body, offsets = [b"%PDF-1.7\n"], []

    def add(obj: bytes) -> None:
        offsets.append(sum(map(len, body)))
        body.append(b"%d 0 obj\n%s\nendobj\n" % (len(offsets), obj))

    kids = " ".join(f"{4 + n} 0 R" for n in range(pages))
    add(f"<< /Type /Catalog /Pages 2 0 R {catalog} >>".encode())
    add(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    flate = b" /Filter /FlateDecode" if deflate else b""
    add(b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(content), flate, content))
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    for _ in range(pages):
        add(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
            b"/Resources %s %s >>" % (font, page.encode())
        )
    xref = sum(map(len, body))
    entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body.append(b"xref\n0 %d\n0000000000 65535 f \n%s" % (len(offsets) + 1, entries))
    body.append(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    )
    return b"".join(body)


def deflated(chunk: bytes, times: int) -> bytes:
    packer = zlib.compressobj(9)
    return b"".join([*(packer.compress(chunk) for _ in range(times)), packer.flush()])


LETTER = b"BT /F1 12 Tf 72 770 Td (Objet : votre commande) Tj ET"
BOMB = deflated(b" " * (1 << 20), 200)  # 200 MB of drawing in about 200 kB
OPERATORS = deflated(b"BT /F1 8 Tf 72 700 Td (x) Tj ET\n" * 1024, 320)  # 10 MB of text


def test_a_pdf_that_inflates_to_200_mb_is_a_422_on_every_form_and_the_api(
    client, logged_in, token, org
):
    bomb = raw_pdf(BOMB, deflate=True)
    assert len(bomb) < 1024 * 1024
    letter = preview(logged_in, bomb)
    assert letter.status_code == 422
    assert "trop volumineux une fois décompressé" in letter.get_data(as_text=True)
    terms = logged_in.post(
        "/courrier/reglages",
        data={"terms": (io.BytesIO(bomb), "cgv.pdf")},
        content_type="multipart/form-data",
    )
    assert terms.status_code == 422
    assert "trop volumineux une fois décompressé" in terms.get_data(as_text=True)
    contract = {
        "number": "C-1",
        "product": "Compte Clients",
        "start_date": "2020-01-01",
        "client_code": "00002501",
        "documents": [{"title": "CGV", "pdf": encode_pdf(bomb)}],
    }
    response = post(client, "contracts", [contract], token)
    assert response.status_code == 422
    [fault] = response.get_json()["faults"]
    assert fault["field"] == "documents[1].pdf"
    assert "too large once decompressed" in fault["message"]


def test_a_pdf_of_ten_thousand_pages_is_refused_without_reading_them(client, token, org):
    many = raw_pdf(LETTER, pages=10_000)
    contract = {
        "number": "C-1",
        "product": "Compte Clients",
        "start_date": "2020-01-01",
        "client_code": "00002501",
        "documents": [{"title": "CGV", "pdf": encode_pdf(many)}],
    }
    response = post(client, "contracts", [contract], token)
    assert response.status_code == 422
    [fault] = response.get_json()["faults"]
    assert fault["message"] == "has 10000 pages, more than 2000"


def test_a_page_of_10_mb_of_text_is_posted_with_a_cover_page_without_being_searched(logged_in, org):
    heavy = raw_pdf(OPERATORS, deflate=True)
    page = preview(logged_in, heavy)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r'id="preview-pages">2 \(', text)  # the address on a page of its own


def test_what_goes_to_print_carries_no_script_nor_annotation(app):
    script = "<< /S /JavaScript /JS (app.launchURL(1)) >>"
    scripted = raw_pdf(
        LETTER,
        catalog=f"/OpenAction {script} /Names << /JavaScript << /Names [(a) {script}] >> >>",
        page=f"/AA << /O {script} >> /Annots [<< /Type /Annot /Subtype /Link "
        f"/Rect [0 0 595 842] /A {script} >>]",
    )
    assert scripted.count(b"/JavaScript") == 5  # 4 scripts, one a name tree
    with app.test_request_context():
        printed, pages, cover = print_ready(scripted, ["CLIENT 2", "75015 PARIS"])
    assert pages == 1 and not cover
    assert b"/JavaScript" not in printed and b"/JS" not in printed and b"/OpenAction" not in printed
    assert "Objet : votre commande" in PdfReader(io.BytesIO(printed)).pages[0].extract_text()


# -- issue 25: addresses behind proxies, API guesses, answers alike ---------------------


def login_as(client, email: str, password: str, address: str):
    return client.post(
        "/login", data={"email": email, "password": password}, headers={"X-Forwarded-For": address}
    )


def test_behind_a_proxy_each_client_has_its_own_login_limit(register_plugin, user):
    portal = register_plugin(TRUSTED_PROXIES=1)
    client = portal.test_client()
    for n in range(20):  # failures of one client, on other accounts than the user's
        failed = login_as(client, f"x{n % 5}@a.example.com", "wrong!", "203.0.113.7")
        assert failed.status_code == 401
    refused = login_as(client, "x9@a.example.com", "wrong!", "203.0.113.7")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert login_as(client, user.email, PASSWORD, "198.51.100.2").status_code == 302
    # a client cannot choose its address: only the hop the proxy added is believed
    client.post("/logout")
    forged = login_as(client, "x9@a.example.com", "wrong!", "198.51.100.2, 203.0.113.7")
    assert forged.status_code == 429


def test_without_trusted_proxies_a_forwarded_address_is_not_believed(client, user):
    for n in range(20):
        login_as(client, f"x{n % 5}@a.example.com", "wrong!", f"203.0.113.{n}")
    assert login_as(client, user.email, PASSWORD, "198.51.100.2").status_code == 429


def test_guessing_api_tokens_is_throttled_by_address_with_retry_after(client):
    answers = [post(client, "invoices", [], f"guess-{n}").status_code for n in range(21)]
    assert answers == [401] * 20 + [429]
    refused = post(client, "invoices", [], "guess-21")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "without a valid token" in refused.get_json()["error"]


def test_deeply_nested_json_is_a_400(client, token):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/api/v1/invoices",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "the JSON is nested too deeply"


def test_a_top_up_amount_in_exponent_notation_is_refused(logged_in):
    response = logged_in.post("/porte-monnaie/recharger", data={"other": "1e3"})
    assert response.status_code == 422
    assert "Saisissez un montant" in response.get_data(as_text=True)


def test_the_cli_refuses_an_address_the_login_form_would_refuse(app):
    result = run_cli(app, "user", "create", "a_admin@a.test", "--password", "long enough pw")
    assert result.exit_code != 0
    assert "a_admin@a.test n’est pas une adresse e-mail valide" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_post_only_route_of_a_switched_off_app_answers_404_to_every_method(logged_in, enable_app):
    assert logged_in.get("/courrier/envoyer").status_code == 405
    enable_app("postal", False)
    assert logged_in.get("/courrier/envoyer").status_code == 404
    assert logged_in.post("/courrier/envoyer").status_code == 404


def test_an_invoice_is_emailed_to_the_addresses_registered_when_it_arrived(
    app, client, logged_in, token, org, smtp_server
):
    """The notification task of an import may run after an address was added: that
    address gets what arrives after it, not the invoices of before."""
    assert post(client, "invoices", [invoice_item("1")], token).status_code == 200
    logged_in.post(
        "/factures/notifications/",
        data={
            "email": "late@client1.example.com",
            "attachments": "y",
            "kinds": "all",
            "frequency": "each",
        },
    )
    assert post(client, "invoices", [invoice_item("2")], token).status_code == 200
    jobs.drain(app)
    assert [m["Subject"].split()[1] for m in smtp_server.messages] == ["2"]


# -- issue 25: tenancy across apps and imports, documents --------------------------------

CONTRACT = {"product": "Compte Clients", "start_date": "2020-01-01"}
RECORD = {
    "family": "F",
    "product": "P",
    "period": "2026-11",
    "quantity": "1",
    "unit": "plis",
    "amount_ht": "1.00",
}


@pytest.mark.parametrize(
    "path, item, field, what",
    [
        ("invoices", lambda code: invoice_item("999", client_code=code), "number", "invoice 999"),
        (
            "contracts",
            lambda code: {"number": "C-9", "client_code": code, **CONTRACT},
            "number",
            "contract C-9",
        ),
        (
            "consumption",
            lambda code: {"id": "r9", "client_code": code, **RECORD},
            "id",
            "record r9",
        ),
    ],
)
def test_a_reimport_never_moves_a_row_to_another_organisation(
    client, token, org, path, item, field, what
):
    other = make_org("Client 2", codes=("00009999",))
    assert post(client, path, [item("00009999")], token).status_code == 200
    moved = post(client, path, [item("00002501")], token)
    assert moved.status_code == 422
    assert moved.get_json()["faults"] == [
        {
            "row": 1,
            "field": field,
            "message": f"{what} belongs to Client 2, not to Client 1: an import never moves it "
            "to another organisation",
        }
    ]
    model = {"invoices": Invoice, "contracts": Contract, "consumption": ConsumptionRecord}[path]
    db.session.expire_all()
    assert db.session.scalars(select(model.organisation_id)).all() == [other.id]


def test_with_invoices_off_no_other_app_shows_an_invoice(logged_in, org, enable_app):
    import_invoices([invoice_item("62274737")])
    invoice_id = db.session.scalar(select(Invoice.id))
    account = org.accounts[0].id
    paid = Payment(
        organisation_id=org.id,
        account_id=account,
        key="k-1",
        provider="mollie",
        purpose="invoices",
        amount=100,
        description="Factures",
    )
    topup = Payment(
        organisation_id=org.id,
        account_id=account,
        key="k-2",
        provider="mollie",
        purpose="topup",
        amount=100,
        description="Rechargement",
    )
    db.session.add_all([paid, topup])
    db.session.flush()
    db.session.add(PaymentInvoice(payment_id=paid.id, invoice_id=invoice_id, amount=100))
    db.session.commit()
    pages = [
        f"/factures/notifications/envoyer?id={invoice_id}",
        "/factures/notifications/journal",
        f"/paiements/factures?id={invoice_id}",
        f"/paiements/{paid.id}",
        f"/courrier/nouveau?invoice_id={invoice_id}",
    ]
    assert [logged_in.get(url).status_code for url in pages] == [200] * 5
    enable_app("invoices", False)
    assert [logged_in.get(url).status_code for url in pages] == [404] * 5
    assert logged_in.get("/courrier/nouveau").status_code == 200  # a letter of its own
    assert "Rechargement" in logged_in.get(f"/paiements/{topup.id}").get_data(as_text=True)
    assert "/factures/notifications/" not in logged_in.get("/").get_data(as_text=True)


def test_an_invoice_pdf_embeds_its_fonts_whatever_the_working_directory(
    app, org, tmp_path, monkeypatch, caplog
):
    """A worker started outside the repository rendered with Helvetica, not embedded
    (its fonts were outside what xhtml2pdf's default policy lets a document read)."""
    from core.storage import storage
    from plugins.invoices import documents as invoice_documents
    from plugins.invoices.documents import cache_key, invoice_pdf

    import_invoices([invoice_item("62274737")])
    invoice = db.session.scalar(select(Invoice))
    monkeypatch.chdir(tmp_path)
    with app.test_request_context():
        reader = PdfReader(io.BytesIO(storage().read(invoice_pdf(invoice))))
        key = cache_key(invoice)
        monkeypatch.setattr(invoice_documents, "PDF_RENDERER", "xhtml2pdf 0.0.1")
        assert cache_key(invoice) != key  # another renderer: another file
    assert "Blocked by the resource policy" not in caplog.text
    assert all_fonts_embedded(reader)
    fonts = {f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert all("Vera" in name for name in fonts), fonts


# -- issue 25: sessions that end ---------------------------------------------------------


def replay(app, cookies: dict[str, str]) -> int:
    """``GET /`` from a new browser holding only these cookies."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value, domain="guichet.test")
    return browser.get("/").status_code


def kept_cookies(client) -> dict[str, str]:
    return {c.key: c.value for c in client._cookies.values()}


def test_logout_ends_the_session_and_its_remember_cookie_for_whoever_kept_them(app, client, user):
    assert client.login(user.email, remember="y").status_code == 302
    kept = kept_cookies(client)
    assert {"guichet_session", "remember_token"} <= set(kept)
    assert replay(app, kept) == 200
    assert replay(app, {"remember_token": kept["remember_token"]}) == 200
    assert client.post("/logout").status_code == 302
    assert replay(app, kept) == 302  # to the login page
    assert replay(app, {"remember_token": kept["remember_token"]}) == 302
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_user_ends_all_their_sessions_at_once(app, client, other_client, user):
    assert client.login(user.email).status_code == 302
    assert other_client.login(user.email, remember="y").status_code == 302
    assert "Se déconnecter partout" in client.get("/mon-compte/").get_data(as_text=True)
    assert client.post("/logout/everywhere").status_code == 302
    assert other_client.get("/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_session_ends_with_the_remember_cookie_s_duration(app, client, user):
    assert client.login(user.email, remember="y").status_code == 302
    old = utcnow() - app.config["REMEMBER_COOKIE_DURATION"] - timedelta(minutes=1)
    db.session.execute(update(UserSession).values(created_at=old))
    db.session.commit()
    assert client.get("/").status_code == 302
    assert client.login(user.email).status_code == 302  # and the ended one is forgotten
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1
