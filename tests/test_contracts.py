import io
import json
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.documents import encode_pdf
from core.extensions import db
from core.importing import ImportRejected
from plugins.contracts.importing import import_contracts
from plugins.contracts.models import Contract, ContractDocument
from plugins.invoices.importing import import_invoices
from tests.conftest import make_org, make_user, one_page_pdf, run_cli

TODAY = date.today()


def contract(number="1-10265655331 - 0", **values):
    data = {
        "number": number,
        "product": "Compte Clients",
        "client_code": "04008041",
        "status": "active",
        "start_date": "2020-01-01",
    }
    data.update(values)
    return data


TERMS = "Conditions specifiques de vente"


def terms(text=TERMS):
    return {"title": "Conditions spécifiques de vente", "pdf": encode_pdf(one_page_pdf(text))}


def count(model=Contract) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- import --------------------------------------------------------------------------


def test_import_creates_then_changes_nothing_then_updates(org):
    first = import_contracts([contract(documents=[terms()])])
    assert first.created == ["1-10265655331 - 0"]
    again = import_contracts([contract(documents=[terms()])])
    assert again.unchanged == ["1-10265655331 - 0"] and not again.created
    changed = import_contracts([contract(status="ended", end_date="2026-01-31")])
    assert changed.updated == ["1-10265655331 - 0"]
    found = db.session.scalar(select(Contract))
    assert (found.status, found.end_on, found.documents) == ("ended", date(2026, 1, 31), [])
    assert count(ContractDocument) == 0


def test_a_bad_batch_is_rejected_whole(org):
    batch = [
        contract("A", documents=[terms()]),
        contract("B", client_code="99999999"),
        contract("C", start_date="2022-02-30"),
        contract("D", start_date="2022-05-01", end_date="2022-04-01"),
        contract("E", documents=[{"title": "Fake", "pdf": encode_pdf(b"hello, not a pdf")}]),
        contract("F", documents=[{"title": "Garbled", "pdf": "%%%"}]),
        contract("A"),
        contract("G", status="lost"),
    ]
    with pytest.raises(ImportRejected) as rejected:
        import_contracts(batch)
    faults = {(f.row, f.field): f.message for f in rejected.value.faults}
    assert faults == {
        (2, "client_code"): "unknown client code 99999999",
        (3, "start_date"): "'2022-02-30' is not a date (2022-05-27 or 27/05/2022)",
        (4, "end_date"): "is before start_date",
        (5, "documents[1].pdf"): "is not a PDF (it does not start with %PDF-)",
        (6, "documents[1].pdf"): "is not valid base64",
        (7, "number"): "already in row 1",
        (8, "status"): "must be one of active, suspended, ended",
    }
    assert count() == 0 and count(ContractDocument) == 0


def test_a_truncated_pdf_is_named(org):
    broken = one_page_pdf()[:200]
    with pytest.raises(ImportRejected) as rejected:
        import_contracts([contract(documents=[{"title": "Cut", "pdf": encode_pdf(broken)}])])
    (fault,) = rejected.value.faults
    assert fault.field == "documents[1].pdf" and fault.message.startswith("is not a readable PDF")


def test_cli_imports_csv_and_names_the_faulty_line(app, org, tmp_path):
    good = tmp_path / "contracts.csv"
    good.write_text(
        "\ufeffnumber;product;client_code;status;start_date;end_date\n"
        "C-1;Compte Clients;04008041;active;01/01/2020;\n"
        "C-2;Destineo;00002501;ended;2019-01-01;2021-12-31\n",
        encoding="utf-8",
    )
    result = run_cli(app, "contracts", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "number,product,client_code,start_date\nC-3,Destineo,00002501,2020-01-01\n"
        "C-4,,00002501,2020-13-01\n"
    )
    result = run_cli(app, "contracts", "import", str(bad))
    assert result.exit_code == 1
    assert "line 3, product: is required" in result.output
    assert "line 3, start_date: '2020-13-01' is not a date" in result.output
    assert "nothing was imported" in result.output
    assert count() == 2


# -- pages ---------------------------------------------------------------------------


@pytest.fixture
def contracts(org):
    batch = [contract(documents=[terms()])] + [
        contract(
            f"C-{n:03d}",
            product="Destineo" if n % 2 else "Affranchigo Liberté",
            client_code="00002501" if n < 40 else "04008041",
            start_date=(TODAY - timedelta(days=n)).isoformat(),
            end_date=(TODAY + timedelta(days=n)).isoformat() if n < 5 else None,
            status="suspended" if n == 7 else "active",
        )
        for n in range(1, 57)
    ]
    import_contracts(batch)
    return batch


def test_list_says_how_many_and_pages(logged_in, contracts):
    page = logged_in.get("/contrats/?size=10").get_data(as_text=True)
    assert "Affichage de 1 à 10 sur 57 résultats" in page
    assert "C-001" in page and "C-011" not in page  # newest start first
    last = logged_in.get("/contrats/?size=10&page=99").get_data(as_text=True)
    assert "Affichage de 51 à 57 sur 57 résultats" in last  # clamped to the last page


@pytest.mark.parametrize(
    "query, first, total",
    [
        ("q=C-05", "C-050", 7),
        ("q=destineo&sort=number&dir=asc", "C-001", 28),
        ("status=suspended", "C-007", 1),
        ("sort=number&dir=desc", "C-056", 57),
        ("sort=client_code&dir=asc&size=100", "C-001", 57),
        ("sort=client_code&dir=desc&size=100", "C-056", 57),
    ],
)
def test_search_sort_and_filter(logged_in, contracts, query, first, total):
    response = logged_in.htmx("get", f"/contrats/?{query}")
    page = response.get_data(as_text=True)
    assert "<html" not in page  # the table alone
    count = "1 résultat" if total == 1 else f"{total} résultats"
    assert re.search(rf'class="muted list-count">(Affichage de 1 à \d+ sur )?{count}<', page)
    assert re.findall(r'/contrats/\d+">([^<]+)</a>', page)[0] == first


def test_unknown_sort_and_bad_page_are_corrected(logged_in, contracts):
    response = logged_in.get("/contrats/?sort=password&page=-3&size=7")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Colonne de tri inconnue" in page
    assert "Affichage de 1 à 25 sur 57 résultats" in page


def test_detail_with_documents_and_links_to_its_invoices(logged_in, org, contracts):
    import_invoices(
        [
            {
                "number": "62268557",
                "date": TODAY.isoformat(),
                "total_ht": "4278.41",
                "total_ttc": "5130.82",
                "client_code": "04008041",
                "references": {"local_contract": "1-10265655331 - 0"},
            }
        ]
    )
    found = db.session.scalar(select(Contract).where(Contract.number == "1-10265655331 - 0"))
    page = logged_in.get(f"/contrats/{found.id}").get_data(as_text=True)
    assert "Compte Clients" in page and "04008041" in page
    assert "Conditions spécifiques de vente" in page
    assert "Voir ses factures" in page
    invoices = logged_in.get("/factures/?contract=1-10265655331+-+0").get_data(as_text=True)
    assert "62268557" in invoices and 'class="muted list-count">1 résultat<' in invoices
    document = found.documents[0]
    response = logged_in.get(f"/contrats/{found.id}/documents/{document.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Conditions specifiques de vente" in text


def test_a_document_of_another_contract_is_404(logged_in, contracts):
    first, second = db.session.scalars(select(Contract).order_by(Contract.id).limit(2)).all()
    document = first.documents[0]
    assert logged_in.get(f"/contrats/{second.id}/documents/{document.id}").status_code == 404


def test_restricted_member_sees_only_its_accounts(client, org, contracts):
    member = make_user("lyon@client1.example.com", org, accounts=("04008041",))
    client.login(member.email)
    page = client.get("/contrats/?size=100").get_data(as_text=True)
    assert "18 résultats" in page  # 04008041: the documented one and C-040..C-056


def test_another_organisation_sees_none(client, contracts):
    other = make_org("Client 2", codes=("00009999",))
    client.login(make_user("x@client2.example.com", other).email)
    assert "Aucun résultat" in client.get("/contrats/").get_data(as_text=True)


def test_widget_counts_and_ending_soon(logged_in, contracts):
    page = logged_in.get("/contrats/widget").get_data(as_text=True)
    assert "Actif</span> <strong>56</strong>" in page
    assert "Suspendu</span> <strong>1</strong>" in page
    assert page.count("C-00") == 4  # C-001 .. C-004 end within 90 days


def test_global_search_finds_contracts(logged_in, contracts):
    page = logged_in.get("/search?q=1-1026").get_data(as_text=True)
    assert "1-10265655331 - 0" in page


def test_json_file_import_keeps_the_pdf(app, org, tmp_path):
    path = tmp_path / "contracts.json"
    path.write_text(json.dumps({"contracts": [contract(documents=[terms()])]}))
    assert run_cli(app, "contracts", "import", str(path)).exit_code == 0
    document = db.session.scalar(select(ContractDocument))
    assert (document.pages, document.size) == (1, len(one_page_pdf(TERMS)))
