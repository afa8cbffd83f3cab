import json
import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from plugins.invoices.importing import ImportRejected, import_invoices
from plugins.invoices.models import Invoice, InvoiceLine
from tests.conftest import invoice_item as invoice
from tests.conftest import make_org, make_user, run_cli

TODAY = date.today()


def count(model=Invoice) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def normalise(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


# -- import --------------------------------------------------------------------------


def test_import_creates_then_changes_nothing_then_updates(org):
    lines = [
        {
            "order_number": "39624522",
            "label": "Lettre Verte",
            "quantity": "40722",
            "unit_price_ht": "0.105065",
            "vat_rate": "20",
            "amount_ht": "4278.41",
        }
    ]
    batch = [invoice("62268557", total_ht="4278.41", total_ttc="5130.82", lines=lines)]
    assert import_invoices(batch).created == ["62268557"]
    stored = db.session.scalar(select(Invoice))
    assert (stored.total_ht, stored.total_ttc) == (427841, 513082)
    assert str(stored.lines[0].unit_price_ht) == "0.105065"
    assert import_invoices(batch).unchanged == ["62268557"]
    batch[0]["status"] = "paid"
    assert import_invoices(batch).updated == ["62268557"]
    db.session.expire_all()
    assert db.session.scalar(select(Invoice.status)) == "paid"
    assert count(InvoiceLine) == 1  # lines replaced, not doubled


def test_credit_notes_carry_negative_amounts(org):
    import_invoices(
        [invoice("62274457", type="credit_note", total_ht="-56267.25", total_ttc="-67520.70")]
    )
    assert db.session.scalar(select(Invoice.total_ht)) == -5626725
    with pytest.raises(ImportRejected, match="credit note has negative amounts"):
        import_invoices([invoice("62274458", type="credit_note")])


def test_a_bad_batch_is_rejected_whole_with_every_fault_named(org):
    batch = [
        invoice("1"),
        invoice("", date="31/02/2022"),
        invoice("3", total_ht="12,345", client_code="99999999"),
        invoice(
            "4",
            lines=[
                {
                    "label": "x",
                    "quantity": "1",
                    "unit_price_ht": "1",
                    "vat_rate": "20",
                    "amount_ht": "1.00",
                }
            ],
        ),
        invoice("1"),
        "not an object",
        invoice("7", recipient={"siret": "123"}),
    ]
    with pytest.raises(ImportRejected) as rejected:
        import_invoices(batch)
    faults = {(f.row, f.field) for f in rejected.value.faults}
    assert faults == {
        (2, "number"),
        (2, "date"),
        (3, "total_ht"),
        (3, "client_code"),
        (4, "lines"),
        (5, "number"),
        (6, "invoice"),  # not an object: nothing else to say of it
        (7, "recipient.siret"),
    }
    assert count() == 0  # nothing half-imported


def test_invoice_events_are_emitted_once(org, app):
    from core.appsystem import registry
    from tests.sample_plugins import Recorder

    recorder = Recorder()
    registry(app).pm.register(recorder, name="recorder_events")
    Recorder.events.clear()
    try:
        import_invoices([invoice("1"), invoice("2")])
        import_invoices([invoice("1"), invoice("2", status="paid")])
    finally:
        registry(app).pm.unregister(recorder)
    names = [(name, payload["number"]) for name, payload in Recorder.events]
    assert names == [("invoice.created", "1"), ("invoice.created", "2"), ("invoice.updated", "2")]


def test_cli_import(app, org, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"invoices": [invoice("1"), invoice("2")]}))
    result = run_cli(app, "invoices", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([invoice("3", date="2022-13-01")]))
    result = run_cli(app, "invoices", "import", str(bad))
    assert result.exit_code == 1
    assert "item 1, date: '2022-13-01' is not a date" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run_cli(app, "invoices", "import", str(broken)).exit_code == 1
    assert count() == 2


# -- list, detail, widget ------------------------------------------------------------


@pytest.fixture
def invoices(org):
    sub = org.accounts[1]
    batch = [
        invoice(
            "100",
            total_ht="100.00",
            total_ttc="120.00",
            date=(TODAY - timedelta(days=5)).isoformat(),
        ),
        invoice(
            "101",
            total_ht="200.00",
            total_ttc="240.00",
            status="paid",
            date=(TODAY - timedelta(days=40)).isoformat(),
        ),
        invoice(
            "102",
            total_ht="56267.25",
            total_ttc="67520.70",
            client_code=sub.client_code,
            sub_account=sub.client_code,
            due_date=(TODAY - timedelta(days=1)).isoformat(),
            date=(TODAY - timedelta(days=31)).isoformat(),
        ),
        invoice("103", type="credit_note", total_ht="-10.00", total_ttc="-12.00", status="paid"),
        invoice("104", date=(TODAY - timedelta(days=800)).isoformat()),  # beyond the history window
    ]
    import_invoices(batch)
    return batch


def numbers(response) -> list[str]:
    import re

    return re.findall(r'/factures/\d+">(\d+)</a>', response.get_data(as_text=True))


def test_list_shows_the_scope_within_the_history_window(logged_in, invoices):
    response = logged_in.get("/factures/")
    assert numbers(response) == ["100", "103", "102", "101"]  # newest first; 104 too old
    page = normalise(response.get_data(as_text=True))
    assert ">4 résultats<" in page
    assert "67 520,70 €" in page and "-12,00 €" in page and "En retard" in page


FILTERS_AND_SORTS = [
    ("status=overdue", ["102"]),
    ("status=to_pay", ["100"]),
    ("status=paid", ["103", "101"]),
    ("ttc_min=100&ttc_max=250", ["100", "101"]),
    ("ttc_min=67 520,70", ["102"]),
    ("number=10&sort=number&dir=asc", ["100", "101", "102", "103"]),
    ("number=103", ["103"]),
    ("number=1_", []),  # a prefix, taken as typed: "_" and "%" are no wildcards
    ("number=%25", []),
    ("sub_account=04008041", ["102"]),
    ("q=102", ["102"]),
    ("sort=ttc&dir=asc", ["103", "100", "101", "102"]),
    ("sort=client_code&dir=desc", ["102", "103", "101", "100"]),
    ("sort=type&dir=asc", ["103", "100", "101", "102"]),  # ties in id order
    ("size=10&page=99", ["100", "103", "102", "101"]),  # clamped to the last page
]


@pytest.mark.parametrize(("query", "expected"), FILTERS_AND_SORTS)
def test_filters_and_sorts(logged_in, invoices, query, expected):
    response = logged_in.get(f"/factures/?{query}")
    assert response.status_code == 200
    assert numbers(response) == expected


def test_far_pages_found_by_their_keys_first_are_the_same(
    logged_in, invoices, monkeypatch, count_queries
):
    """Pages far down the list are found by key first (core.listing.DEFERRED_OFFSET)."""
    monkeypatch.setattr("core.listing.DEFERRED_OFFSET", 0)
    for query, expected in FILTERS_AND_SORTS:
        assert numbers(logged_in.get(f"/factures/?{query}")) == expected, query
    with count_queries() as counter:
        logged_in.get("/factures/?sort=ttc")
    keys_first = [q for q in counter.statements if q.startswith("SELECT invoices.id \nFROM")]
    assert len(keys_first) == 1 and "OFFSET" in keys_first[0]


def test_date_range_and_reversed_ranges_are_corrected(logged_in, invoices):
    start, end = (TODAY - timedelta(days=35)).isoformat(), (TODAY - timedelta(days=30)).isoformat()
    response = logged_in.get(f"/factures/?date_from={end}&date_to={start}")
    assert numbers(response) == ["102"]
    assert "ont été inversées" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2022-02-31", "n’est pas valide"),
        ("ttc_min=abc", "n’est pas valide"),
        ("sort=password", "Colonne de tri inconnue"),
        ("status=lost", "Statut inconnu"),
    ],
)
def test_malformed_filters_get_a_message_not_an_error(logged_in, invoices, query, message):
    response = logged_in.get(f"/factures/?{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert len(numbers(response)) == 4


def test_htmx_gets_only_the_table(logged_in, invoices):
    response = logged_in.htmx("GET", "/factures/?status=paid")
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="invoice-results"')
    assert "<html" not in body


def test_restricted_member_sees_only_its_accounts(client, org, invoices):
    make_user("lyon@client1.example.com", org, accounts=("04008041",))
    client.login("lyon@client1.example.com")
    assert numbers(client.get("/factures/")) == ["102"]


def test_detail_shows_everything_and_hides_other_organisations(logged_in, org):
    lines = [
        {
            "order_number": f"{n}",
            "label": f"Line {n}",
            "quantity": "1",
            "unit_price_ht": "1.00",
            "vat_rate": "20",
            "amount_ht": "1.00",
        }
        for n in range(25)
    ]
    import_invoices(
        [
            invoice(
                "62268557",
                total_ht="25.00",
                total_ttc="30.00",
                lines=lines,
                references={"purchase_order": "AA01046121", "framework_contract": "50036316"},
                recipient={
                    "name": "CLIENT 1",
                    "siret": "35600000000048",
                    "address": "9 rue\n75015 Paris",
                },
                ranges=[
                    {"label": "BU NOUVEAUX SERVICES", "total_ht": "25.00", "total_ttc": "30.00"}
                ],
            ),
        ]
    )
    stored = db.session.scalar(select(Invoice))
    page = logged_in.get(f"/factures/{stored.id}").get_data(as_text=True)
    for text in (
        "Consultation détaillée",
        "AA01046121",
        "50036316",
        "BU NOUVEAUX SERVICES",
        "35600000000048",
        "Line 0",
        "Page 1 sur 2",
    ):
        assert text in page
    assert "Line 24" not in page
    second = logged_in.htmx("GET", f"/factures/{stored.id}?lines_page=2").get_data(as_text=True)
    assert "Line 24" in second and "<html" not in second


def test_widget_shows_latest_and_amount_to_pay(logged_in, invoices):
    body = normalise(logged_in.htmx("GET", "/widgets/invoices.latest").get_data(as_text=True))
    assert "67 640,70 €" in body  # 120,00 + 67 520,70 still to pay
    assert body.count("/factures/") == 4


def test_search_finds_invoice_numbers(logged_in, invoices):
    body = logged_in.htmx("GET", "/search?q=10").get_data(as_text=True)
    assert "Vos factures" in body and ">Facture 102<" in body
    assert "Facture 104" not in body  # beyond the history window


@pytest.fixture
def subscribers(org):
    """Invoices of three subscribers (one of another organisation, with the same name)."""
    other = make_org("Client 2", codes=("00009999",))
    import_invoices(
        [
            invoice("200", subscriber="Écluse de Méry"),
            invoice("201", subscriber="ÉCLUSE DE MÉRY"),
            invoice("202", subscriber="Port de Lyon"),
            invoice("203", subscriber="Port de Lyon"),
            invoice("209", subscriber="Écluse de Méry", client_code="00009999"),
        ]
    )
    return other


@pytest.mark.parametrize(
    "route",
    ["by id", "by name", "through the invoices"],
)
def test_the_quick_search_finds_a_word_of_the_subscriber_whatever_its_case(
    logged_in, subscribers, monkeypatch, route
):
    """Found by id when the matches are few, by name when many (BY_ID lowered), through
    the invoices when the organisation bills too many names (NAMES_READ lowered)."""
    if route == "by name":
        monkeypatch.setattr("plugins.invoices.subscribers.BY_ID", 1)
    if route == "through the invoices":
        monkeypatch.setattr("plugins.invoices.subscribers.NAMES_READ", 1)
    assert numbers(logged_in.get("/factures/?q=Écluse")) == ["201", "200"]
    if route != "through the invoices":  # SQLite's LIKE folds the case of ASCII alone
        assert numbers(logged_in.get("/factures/?q=écluse")) == ["201", "200"]
    assert numbers(logged_in.get("/factures/?q=de%20lyon")) == ["203", "202"]
    assert numbers(logged_in.get("/factures/?q=nulle%20part")) == []
    assert numbers(logged_in.get("/factures/?q=20")) == ["203", "202", "201", "200"]
    box = logged_in.htmx("GET", "/search?q=ecluse").get_data(as_text=True)
    assert "Facture 20" not in box  # "ecluse" is not "écluse"
    box = logged_in.htmx("GET", "/search?q=Écluse").get_data(as_text=True)
    assert ">Facture 200<" in box and ">Facture 201<" in box and "Facture 209" not in box


def test_distinct_values_hop_along_an_index_within_the_organisation(app, subscribers):
    from core.plugin_api import distinct_values

    org = db.session.scalar(select(Invoice.organisation_id).where(Invoice.number == "200"))
    names = distinct_values(Invoice.subscriber, org, 10)  # in the collation's order
    assert sorted(names) == ["Port de Lyon", "ÉCLUSE DE MÉRY", "Écluse de Méry"]
    assert distinct_values(Invoice.subscriber, subscribers.id, 10) == ["Écluse de Méry"]
    assert distinct_values(Invoice.subscriber, org, 2) is None  # more than asked
    assert distinct_values(Invoice.currency, org, 5) == ["EUR"]
    assert distinct_values(Invoice.currency, subscribers.id, 5) == ["EUR"]
    assert distinct_values(Invoice.currency, subscribers.id + 1, 5) == []


def test_the_search_box_finds_by_each_way_newest_first(logged_in, invoices):
    body = logged_in.htmx("GET", "/search?q=67 520,70").get_data(as_text=True)
    assert ">Facture 102<" in body and ">Facture 100<" not in body
    body = logged_in.htmx("GET", "/search?q=CLIENT").get_data(as_text=True)
    assert body.index(">Facture 100<") < body.index(">Facture 102<") < body.index(">Facture 101<")


def test_another_organisation_cannot_see_them(client, invoices):
    other = make_org("Client 2", codes=("00009999",))
    make_user("x@client2.example.com", other)
    client.login("x@client2.example.com")
    assert numbers(client.get("/factures/")) == []
    stored = db.session.scalar(select(Invoice.id).where(Invoice.number == "100"))
    assert client.get(f"/factures/{stored}").status_code == 404


# -- CSV exports ---------------------------------------------------------------------


def test_csv_export_in_the_french_dialect_covers_the_whole_filtered_result(logged_in, invoices):
    response = logged_in.get("/factures/export.csv?size=10&page=1&status=paid")
    assert "Content-Length" not in response.headers  # streamed, not built in memory
    assert response.mimetype == "text/csv"
    filename = f"factures-{TODAY.isoformat()}.csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = [line.split(";") for line in raw.decode("utf-8-sig").splitlines()]
    assert rows[0][:3] == ["Type", "Date", "N° de la facture"]  # in the reader's language
    assert rows[0][8] == "Statut" and rows[2][8] == "Payée"
    assert [r[2] for r in rows[1:]] == ["103", "101"]
    credit = rows[1]
    assert credit[0] == "Avoir" and credit[3] == "-10,00" and credit[4] == "-12,00"
    assert credit[1] == (TODAY - timedelta(days=10)).strftime("%d/%m/%Y")


def test_csv_export_standard_dialect_and_overdue_status(logged_in, invoices):
    raw = logged_in.get("/factures/export.csv?dialect=std&status=overdue").get_data(as_text=True)
    assert not raw.startswith("\ufeff")
    rows = [line.split(",") for line in raw.splitlines()]
    assert len(rows) == 2
    assert rows[1][2:5] == ["102", "56267.25", "67520.70"]
    assert rows[0][:3] == ["type", "date", "number"]  # stable keys and codes for programs
    assert rows[1][0] == "invoice" and rows[1][8] == "overdue"


def test_csv_export_of_invoice_lines(logged_in, org):
    lines = [
        {
            "order_number": "39624522",
            "label": "Lettre; verte",
            "quantity": "40722",
            "unit_price_ht": "0.105065",
            "vat_rate": "20",
            "amount_ht": "4278.41",
        }
    ]
    import_invoices([invoice("62268557", total_ht="4278.41", total_ttc="5130.82", lines=lines)])
    response = logged_in.get("/factures/export.csv?rows=lines")
    assert "lignes-factures-" in response.headers["Content-Disposition"]
    rows = response.get_data().decode("utf-8-sig").splitlines()
    assert rows[1] == (
        f"62268557;{(TODAY - timedelta(days=10)).strftime('%d/%m/%Y')};00002501;39624522;"
        '"Lettre; verte";40722;0,105065;20;4278,41;EUR'
    )


def test_csv_export_respects_the_scope(client, org, invoices):
    make_user("lyon@client1.example.com", org, accounts=("04008041",))
    client.login("lyon@client1.example.com")
    rows = client.get("/factures/export.csv?dialect=std").get_data(as_text=True).splitlines()
    assert [r.split(",")[2] for r in rows[1:]] == ["102"]


@pytest.mark.parametrize(
    ("query", "message"), [("dialect=xls", "dialect=fr"), ("rows=everything", "rows=invoices")]
)
def test_csv_export_with_unknown_options_is_a_clear_400(logged_in, invoices, query, message):
    response = logged_in.get(f"/factures/export.csv?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


# -- PDF -----------------------------------------------------------------------------


def test_pdf_is_rendered_read_back_and_then_served_from_the_cache(app, logged_in, org):
    from io import BytesIO
    from pathlib import Path

    from pypdf import PdfReader

    lines = [
        {
            "order_number": "39624522",
            "label": "Affranchissement Lettre Verte",
            "quantity": "40722",
            "unit_price_ht": "0.105065",
            "vat_rate": "20",
            "amount_ht": "4278.41",
        }
    ]
    import_invoices(
        [
            invoice(
                "62268557",
                total_ht="4278.41",
                total_ttc="5130.82",
                lines=lines,
                references={"purchase_order": "AA01046121"},
            )
        ]
    )
    stored = db.session.scalar(select(Invoice.id))
    cache = Path(app.config["DOCUMENTS_PATH"]) / "invoices" / "cache"
    shutil.rmtree(cache, ignore_errors=True)  # other tests render invoices too
    response = logged_in.get(f"/factures/{stored}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "filename=facture-62268557.pdf" in response.headers["Content-Disposition"]
    text = normalise(" ".join(p.extract_text() for p in PdfReader(BytesIO(response.data)).pages))
    for expected in (
        "62268557",
        "5 130,82 €",
        "4 278,41 €",
        "AA01046121",
        "852,41 €",
        "page 1 / 1",
    ):
        # the VAT charged: 5 130,82 - 4 278,41 (its lines' 20 % would make 855,68 €, and
        # the totals would not add up: a range of 16,35 € bears no VAT)
        assert expected in text, expected
    assert "855,68" not in text
    files = list(cache.glob("*.pdf"))
    assert len(files) == 1
    modified = files[0].stat().st_mtime_ns
    again = logged_in.get(f"/factures/{stored}/pdf")
    assert again.data == response.data
    assert [f.stat().st_mtime_ns for f in cache.glob("*.pdf")] == [modified]  # not rendered again
    english = logged_in.get(f"/factures/{stored}/pdf", headers={"Accept-Language": "en"})
    assert english.data != response.data  # another locale is another document
    import_invoices(
        [
            invoice(
                "62268557",
                total_ht="4278.41",
                total_ttc="5130.82",
                lines=lines,
                references={"purchase_order": "AA01046122"},
            )
        ]
    )
    changed = logged_in.get(f"/factures/{stored}/pdf")
    assert "AA01046122" in " ".join(
        p.extract_text() for p in PdfReader(BytesIO(changed.data)).pages
    )


def test_vat_breakdown_rounds_half_up_per_rate(org):
    from plugins.invoices.documents import vat_breakdown

    lines = [
        {
            "label": "a",
            "quantity": "1",
            "unit_price_ht": "0.05",
            "vat_rate": "20",
            "amount_ht": "0.05",
        },
        {
            "label": "b",
            "quantity": "1",
            "unit_price_ht": "10",
            "vat_rate": "5.5",
            "amount_ht": "10.00",
        },
    ]
    import_invoices([invoice("1", total_ht="10.05", total_ttc="10.61", lines=lines)])
    stored = db.session.scalar(select(Invoice))
    assert [(str(r), base, vat) for r, base, vat in vat_breakdown(stored)] == [
        ("5.50", 1000, 55),
        ("20.00", 5, 1),
    ]


# -- ZIP -----------------------------------------------------------------------------


def read_zip(response):
    import zipfile
    from io import BytesIO

    from pypdf import PdfReader

    archive = zipfile.ZipFile(BytesIO(response.data))
    return {
        name: PdfReader(BytesIO(archive.read(name))).pages[0].extract_text()
        for name in archive.namelist()
    }


def test_zip_of_three_selected_invoices(logged_in, invoices):
    ids = dict(db.session.execute(select(Invoice.number, Invoice.id)).all())
    query = "&".join(f"id={ids[n]}" for n in ("100", "102", "103"))
    response = logged_in.get(f"/factures/archive.zip?{query}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "Content-Length" not in response.headers  # streamed
    files = read_zip(response)
    assert sorted(files) == ["avoir-103.pdf", "facture-100.pdf", "facture-102.pdf"]
    assert "102" in files["facture-102.pdf"] and "67 520,70" in normalise(files["facture-102.pdf"])


def test_a_zip_of_ready_pdfs_is_stored_and_announces_its_size(logged_in, invoices):
    import zipfile
    from io import BytesIO

    first = logged_in.get("/factures/archive.zip?all=1")  # renders what is missing
    again = logged_in.get("/factures/archive.zip?all=1")  # every PDF ready now
    assert again.status_code == 200
    assert int(again.headers["Content-Length"]) == len(again.data)  # the browser's progress
    archive = zipfile.ZipFile(BytesIO(again.data))
    rendered = zipfile.ZipFile(BytesIO(first.data))
    assert [archive.read(n) for n in archive.namelist()] == [
        rendered.read(n) for n in rendered.namelist()
    ]  # the same PDFs, read from the files the first one made
    assert archive.testzip() is None  # every CRC right
    assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert [i.filename for i in archive.infolist()] == [
        "facture-100.pdf",
        "avoir-103.pdf",
        "facture-102.pdf",
        "facture-101.pdf",
    ]  # newest first, as the list shows them


def test_zip_of_the_whole_filtered_list(logged_in, invoices):
    files = read_zip(logged_in.get("/factures/archive.zip?all=1&status=paid"))
    assert sorted(files) == ["avoir-103.pdf", "facture-101.pdf"]


def test_zip_over_the_cap_is_refused_with_a_message(app, logged_in, invoices):
    app.config["INVOICES_ZIP_CAP"] = 2
    try:
        response = logged_in.get("/factures/archive.zip?all=1")
    finally:
        app.config["INVOICES_ZIP_CAP"] = 3000
    assert response.status_code == 400
    assert "4 factures sélectionnées" in response.get_data(as_text=True)


def test_zip_with_another_organisations_id_is_404(client, invoices):
    other = make_org("Client 2", codes=("00009999",))
    make_user("x@client2.example.com", other)
    client.login("x@client2.example.com")
    stored = db.session.scalar(select(Invoice.id).where(Invoice.number == "100"))
    assert client.get(f"/factures/archive.zip?id={stored}").status_code == 404


@pytest.mark.parametrize("query", ["id=abc", "id="])
def test_zip_of_a_malformed_selection_is_a_clear_400(logged_in, invoices, query):
    response = logged_in.get(f"/factures/archive.zip?{query}")
    assert response.status_code == 400
    assert "doivent être des nombres" in response.get_data(as_text=True)


def test_the_worker_makes_recent_pdfs_ahead_in_the_organisations_language(
    app, org, logged_in, tmp_path
):
    from pathlib import Path

    from core import jobs
    from core.models import Organisation
    from tests.conftest import run_cli

    jobs.drain(app)
    cache = Path(app.config["DOCUMENTS_PATH"]) / "invoices" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    db.session.get(Organisation, org.id).locale = "en"
    db.session.commit()
    old = (TODAY - timedelta(days=400)).isoformat()
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": [invoice("700"), invoice("701", date=old)]}))
    assert run_cli(app, "invoices", "import", str(path)).exit_code == 0
    assert not cache.exists() or not list(cache.glob("*.pdf"))  # queued, not made in the import
    jobs.drain(app)  # the notifications' fan-out, and the PDFs
    made = list(cache.glob("*.pdf"))
    assert len(made) == 1  # the recent one; the old one waits for a download
    stored = db.session.scalar(select(Invoice.id).where(Invoice.number == "700"))
    english = logged_in.get(f"/factures/{stored}/pdf", headers={"Accept-Language": "en"})
    assert english.data == made[0].read_bytes()  # the worker's file, in the organisation's language
    assert list(cache.glob("*.pdf")) == made  # nothing rendered for the download
    revalidated = logged_in.get(
        f"/factures/{stored}/pdf",
        headers={"Accept-Language": "en", "If-None-Match": english.headers["ETag"]},
    )
    assert revalidated.status_code == 304 and revalidated.data == b""

    payment_like = invoice("700", status="paid")  # a change: its PDF is made again
    path.write_text(json.dumps({"invoices": [payment_like]}))
    assert run_cli(app, "invoices", "import", str(path)).exit_code == 0
    jobs.drain(app)
    assert len(list(cache.glob("*.pdf"))) == 2


def test_pdfs_made_ahead_wait_behind_mail_and_payments(app):
    from core import jobs
    from plugins.invoices.documents import render_pdfs
    from plugins.notifications.sending import fan_out

    jobs.drain(app)
    with app.app_context():
        render_pdfs([1, 2])
        fan_out([1])
        huey = jobs.queue(app)
        assert huey.dequeue().name.endswith("fan_out")  # queued last, taken first
        assert huey.dequeue().name.endswith("render_pdfs")


# -- CSV files -----------------------------------------------------------------------

CSV_HEADER = (
    "number;type;date;total_ht;total_ttc;client_code;purchase_order;recipient_name;"
    "line_order_number;line_label;line_quantity;line_unit_price_ht;line_vat_rate;line_amount_ht;"
    "range_label;range_total_ht;range_total_ttc\n"
)


def test_cli_imports_a_csv_of_invoice_lines(app, org, tmp_path):
    path = tmp_path / "factures.csv"
    path.write_text(
        "\ufeff" + CSV_HEADER + "62268557;invoice;17/05/2022;4278,41;5130,82;04008041;AA01046121;"
        "CLIENT 1;39624522;Lettre verte;40722;0,1;20;4072,20;BU NOUVEAUX SERVICES;5114,47;6137,36\n"
        "62268557;invoice;17/05/2022;4278,41;5130,82;04008041;AA01046121;CLIENT 1;39624523;"
        "Frais;1;206,21;20;206,21;;;\n",
        encoding="utf-8",
    )
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 1  # the range does not add up to total_ht
    assert "line 2, ranges: the ranges' totals do not add up to total_ht" in result.output
    path.write_text(path.read_text(encoding="utf-8").replace("5114,47;6137,36", "4278,41;5130,82"))
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 0, result.output
    stored = db.session.scalar(select(Invoice))
    assert (stored.total_ht, stored.purchase_order, stored.recipient_name) == (
        427841,
        "AA01046121",
        "CLIENT 1",
    )
    assert [(line.order_number, line.amount_ht) for line in stored.lines] == [
        ("39624522", 407220),
        ("39624523", 20621),
    ]
    assert (
        "0 created, 0 updated, 1 unchanged" in run_cli(app, "invoices", "import", str(path)).output
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"number;date\n\xff\xfe;x\n", "not UTF-8 text"),
        (
            CSV_HEADER.encode() + b"1;invoice;2022-01-01;1;1;00002501;;;;;;;;;;;;;extra\n",
            "line 2: more values than columns",
        ),
        (
            CSV_HEADER.encode()
            + b"7;invoice;2022-01-01;1;1.2;00002501;;;;;;;;;;;\n"
            + b"7;invoice;2022-01-02;1;1.2;00002501;;;;;;;;;;;\n",
            "line 3, number: 7 differs from its first row, line 2",
        ),
    ],
)
def test_unreadable_csv_files_are_refused_with_the_line(app, org, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert count() == 0


# --- credit notes set against the invoices they cancel ----------------------------------


def pdf_text(client, invoice_id: int) -> str:
    from io import BytesIO

    from pypdf import PdfReader

    response = client.get(f"/factures/{invoice_id}/pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    text = " ".join(p.extract_text() for p in PdfReader(BytesIO(response.data)).pages)
    return " ".join(normalise(text).split())


@pytest.mark.parametrize("order", ["invoice first", "credit note first"])
def test_a_credit_note_cancels_the_invoice_it_names(logged_in, org, order):
    batch = [
        invoice("62274737"),
        invoice(
            "62274457",
            type="credit_note",
            cancels="62274737",
            status="paid",
            total_ht="-56267.25",
            total_ttc="-67520.70",
            due_date=None,
        ),
        invoice("62270001", total_ht="100.00", total_ttc="120.00"),
    ]
    if order == "credit note first":
        import_invoices(batch[1:])
        import_invoices(batch[:1])
    else:
        import_invoices(batch)
    ids = {i.number: i.id for i in db.session.scalars(select(Invoice))}
    cancelled = db.session.get(Invoice, ids["62274737"])
    assert (cancelled.credited, cancelled.amount_due, cancelled.is_cancelled) == (-6752070, 0, True)
    widget = normalise(logged_in.htmx("GET", "/widgets/invoices.latest").get_data(as_text=True))
    assert "120,00 €" in widget and "67 640,70" not in widget  # "Reste à payer"
    to_pay = logged_in.htmx("GET", "/factures/?status=to_pay").get_data(as_text=True)
    assert "62270001" in to_pay and "62274737<" not in to_pay
    listed = logged_in.htmx("GET", "/factures/?status=cancelled").get_data(as_text=True)
    assert "62274737<" in listed and "Annulée" in listed
    detail = logged_in.get(f"/factures/{ids['62274737']}").get_data(as_text=True)
    assert f'/factures/{ids["62274457"]}">62274457</a>' in detail and "Reste à payer" in detail
    note = logged_in.get(f"/factures/{ids['62274457']}").get_data(as_text=True)
    assert "Annule la facture" in note and f'/factures/{ids["62274737"]}">62274737<' in note
    text = pdf_text(logged_in, ids["62274457"])
    assert "Avoir sur la facture n° 62274737" in text
    assert "pénalités" not in text  # a credit note owes nothing
    pay = logged_in.get(f"/paiements/factures?id={ids['62274737']}&id={ids['62274457']}")
    page = pay.get_data(as_text=True)
    assert "67 520,70" not in normalise(page) and "Aucune de ces factures" in page


def test_a_partial_credit_note_leaves_the_rest_to_pay(logged_in, org):
    import_invoices(
        [
            invoice("A-10", total_ht="100.00", total_ttc="120.00"),
            invoice(
                "AV-10",
                type="credit_note",
                cancels="A-10",
                total_ht="-25.00",
                total_ttc="-30.00",
                due_date=None,
            ),
        ]
    )
    ids = {i.number: i.id for i in db.session.scalars(select(Invoice))}
    page = normalise(
        logged_in.get(f"/paiements/factures?id={ids['A-10']}&id={ids['AV-10']}").get_data(
            as_text=True
        )
    )
    assert "Payer 90,00 €" in page and "AV-10 — avoir, déduit de la facture A-10" in page


def test_only_a_credit_note_cancels_an_invoice(org):
    with pytest.raises(ImportRejected) as rejected:
        import_invoices(
            [
                invoice("A-11", cancels="A-10"),
                invoice(
                    "AV-11",
                    type="credit_note",
                    cancels="AV-11",
                    total_ht="-1.00",
                    total_ttc="-1.20",
                ),
            ]
        )
    faults = {(f.row, f.field): f.message for f in rejected.value.faults}
    assert faults == {
        (1, "cancels"): "only a credit note cancels an invoice",
        (2, "cancels"): "a credit note cannot cancel itself",
    }
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_the_pdf_totals_add_up_and_name_a_complete_issuer(logged_in, org):
    import_invoices(
        [
            invoice(
                "A-12",
                total_ht="100.00",
                total_ttc="120.00",
                lines=[
                    {
                        "label": "Lettre",
                        "quantity": "200",
                        "unit_price_ht": "0.5",
                        "vat_rate": "20",
                        "amount_ht": "100.00",
                    }
                ],
            )
        ]
    )
    text = pdf_text(logged_in, db.session.scalar(select(Invoice.id)))
    assert "TVA 20 % sur 100,00 € 20,00 €" in text and "0,50" in text  # a price has its cents
    assert "Guichet Test SAS" in text and "SIRET 91234567800011" in text
    assert "FR74912345678" in text and "pénalités" in text


def test_no_invoice_pdf_without_the_issuers_legal_mentions(
    app, logged_in, org, operator, other_client, monkeypatch
):
    monkeypatch.setitem(app.config, "ISSUER", {"name": "Guichet"})
    import_invoices([invoice("A-13")])
    response = logged_in.get(f"/factures/{db.session.scalar(select(Invoice.id))}/pdf")
    assert response.status_code == 503
    assert "mentions légales" in response.get_data(as_text=True)
    other_client.login(operator.email)
    banner = other_client.get("/operator/organisations").get_data(as_text=True)
    assert "il manque address, siret, vat_number au réglage ISSUER" in banner


def test_downloading_an_empty_selection_asks_to_tick_invoices(logged_in, invoices):
    response = logged_in.get("/factures/archive.zip")
    assert response.status_code == 303 and response.location.endswith("/factures/")
    page = logged_in.get("/factures/").get_data(as_text=True)
    assert "Cochez d’abord les factures à télécharger." in page
    assert "data-needs-selection" in page  # the buttons wait for a ticked row


# --- what is still to pay, kept per account and month (the widget reads it) -----------


def totals_from_scratch() -> dict:
    """What the totals must hold, computed from every invoice."""
    from plugins.invoices.totals import DUE, TO_PAY

    rows = db.session.execute(
        select(Invoice.account_id, Invoice.issued_on, Invoice.currency, DUE).where(TO_PAY)
    )
    expected: dict = {}
    for account, day, currency, due in rows:
        key = (account, day.replace(day=1), currency)
        count, amount = expected.get(key, (0, 0))
        expected[key] = (count + 1, amount + due)
    return expected


def stored_totals() -> dict:
    from plugins.invoices.models import InvoiceTotal

    rows = db.session.scalars(select(InvoiceTotal))
    return {(t.account_id, t.month, t.currency): (t.to_pay_count, t.to_pay_amount) for t in rows}


def still_to_pay(client) -> str:
    body = client.htmx("GET", "/widgets/invoices.latest").get_data(as_text=True)
    return normalise(body).split("Reste à payer")[1].split("</p>")[0]


def test_what_is_still_to_pay_is_kept_through_every_change(logged_in, org):
    from core.plugin_api import PaymentChange, PaymentFacts
    from plugins.invoices import settlement

    long_ago = (TODAY - timedelta(days=800)).isoformat()
    import_invoices(
        [
            invoice("A", total_ht="100.00", total_ttc="120.00"),
            invoice("B", total_ht="50.00", total_ttc="60.00", client_code="04008041"),
            invoice("C", total_ht="10.00", total_ttc="12.00", status="paid"),
            invoice("D", total_ht="10.00", total_ttc="12.00", currency="USD"),
            invoice("OLD", total_ht="10.00", total_ttc="12.00", date=long_ago),
        ]
    )
    assert stored_totals() == totals_from_scratch() != {}
    assert "180,00 €" in still_to_pay(logged_in) and "12,00 $US" in still_to_pay(logged_in)

    import_invoices(
        [invoice("AV", type="credit_note", cancels="A", total_ht="-25.00", total_ttc="-30.00")]
    )
    assert stored_totals() == totals_from_scratch()
    assert "150,00 €" in still_to_pay(logged_in)  # A: 120 - 30

    moved = (TODAY - timedelta(days=70)).isoformat()
    import_invoices(
        [invoice("B", total_ht="50.00", total_ttc="60.00", client_code="00002501", date=moved)]
    )  # another account, another month
    assert stored_totals() == totals_from_scratch()

    a = db.session.scalar(select(Invoice).where(Invoice.number == "A"))
    facts = PaymentFacts(
        1,
        org.id,
        a.account_id,
        None,
        "invoices",
        9000,
        "EUR",
        "tr_1",
        load_targets=lambda: [(a.id, 9000)],
    )
    settlement.paid(PaymentChange(facts, 9000, "payment:1"))
    db.session.commit()  # as the payment's transaction does
    assert stored_totals() == totals_from_scratch()
    assert "60,00 €" in still_to_pay(logged_in)  # B only
    settlement.charged_back(PaymentChange(facts, 9000, "chargeback:1:9000"))
    db.session.commit()
    assert stored_totals() == totals_from_scratch()
    assert "150,00 €" in still_to_pay(logged_in)


def test_the_widget_counts_only_the_history_window_and_the_scope(app, org, client):
    window = app.config["INVOICES_HISTORY_DAYS"]
    first_day = TODAY - timedelta(days=window)  # the window's first, partial month
    import_invoices(
        [
            invoice("IN", total_ht="10.00", total_ttc="12.00", date=first_day.isoformat()),
            invoice(
                "OUT",
                total_ht="10.00",
                total_ttc="12.00",
                date=(first_day - timedelta(days=1)).isoformat(),
            ),
            invoice("OTHER", total_ht="100.00", total_ttc="120.00", client_code="04008041"),
        ]
    )
    make_user("restricted@client1.example.com", org, accounts=["00002501"])
    client.login("restricted@client1.example.com")
    assert "12,00 €" in still_to_pay(client)  # not OUT (too old), not OTHER (not in scope)


def test_the_widget_runs_the_same_few_queries_whatever_the_invoices(logged_in, count_queries):
    counts = []
    for batch in (1, 50):
        import_invoices(
            [
                invoice(f"{batch}-{n}", date=(TODAY - timedelta(days=n * 9)).isoformat())
                for n in range(batch)
            ]
        )
        with count_queries() as queries:
            assert logged_in.htmx("GET", "/widgets/invoices.latest").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 8


def test_a_long_list_counts_to_its_limit_and_counts_exactly_on_demand(
    logged_in, invoices, monkeypatch
):
    from plugins.invoices.queries import Filters

    monkeypatch.setattr(Filters, "count_limit", 2)  # the four invoices in scope: "more"
    page = logged_in.get("/factures/?size=10").get_data(as_text=True)
    assert "Affichage de 1 à 4 sur plus de 2 résultats" in normalise(page)
    assert "count=exact" in page and "Compter exactement" in page
    assert "Page 1</li>" in page  # no last page is claimed
    assert 'rel="next"' not in page  # this page holds the last rows
    monkeypatch.setattr(Filters, "count_limit", 1)
    monkeypatch.setattr("core.listing.PAGE_SIZES", (2, 10, 25, 50, 100))
    full = logged_in.get("/factures/?size=2").get_data(as_text=True)  # a full page: more after
    assert 'rel="next"' in full and "page=2" in full and "Page 1</li>" in full
    assert "affinez la recherche" in page  # no "download all" of an unknown number
    assert "au plus 3\u202f000 factures" in page or "au plus 3\xa0000 factures" in page
    exact = logged_in.get("/factures/?size=10&count=exact", headers={"HX-Request": "true"})
    text = normalise(exact.get_data(as_text=True))
    assert "4 résultats" in text and "plus de" not in text
    assert "Tout télécharger (4) en ZIP" in text
