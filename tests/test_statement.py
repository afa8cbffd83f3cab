"""The statement of account app: balances, ageing, movements with their running
balance on screen, in CSV and in PDF; the "À payer" widget; the day an invoice was paid
kept by the import and by payments; bad periods named."""

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.extensions import db
from plugins.invoices.importing import ImportRejected, import_invoices
from plugins.invoices.models import Invoice
from tests.conftest import invoice_item as invoice
from tests.conftest import make_org, make_user

TODAY = date.today()
AMOUNT = r"-?\d[\d ]*,\d\d €"


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def normalise(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def history(org):
    """Before the period: A (1,200.00, paid) and E (500.00, over 90 days late); in it:
    B (600.00, 20 days late), the credit note C (-100.00) against B, D (300.00, not due)."""
    import_invoices(
        [
            invoice(
                "A1",
                date=day(100),
                due_date=day(70),
                total_ht="1000.00",
                total_ttc="1200.00",
                status="paid",
                paid_on=day(80),
            ),
            invoice("E5", date=day(200), due_date=day(170), total_ht="500.00", total_ttc="500.00"),
            invoice("B2", date=day(50), due_date=day(20), total_ht="500.00", total_ttc="600.00"),
            invoice(
                "C3",
                type="credit_note",
                cancels="B2",
                date=day(40),
                due_date=None,
                total_ht="-100.00",
                total_ttc="-100.00",
            ),
            invoice("D4", date=day(10), due_date=day(-20), total_ht="250.00", total_ttc="300.00"),
        ]
    )


def period(start: int = 60, end: int = 0) -> str:
    return f"from={day(start)}&to={day(end)}"


def test_the_statement_adds_up_and_ages_what_is_open(logged_in, history):
    page = normalise(logged_in.get(f"/releve/?{period()}").get_data(as_text=True))
    balances = page.split("Solde d’ouverture", 1)[1]
    for amount in ("500,00 €", "900,00 €", "-100,00 €", "0,00 €", "1 300,00 €"):
        assert amount in balances
    assert "3 résultats" in page
    # B2 owes 500.00 (600 less its credit note), 20 days late; D4 is not due; E5 is
    # over 90 days late: the open total is the closing balance
    ageing = page.split("Ouvert au", 1)[1].split("</article>", 1)[0]
    assert re.findall(AMOUNT, ageing) == [
        "300,00 €",
        "500,00 €",
        "0,00 €",
        "0,00 €",
        "500,00 €",
        "1 300,00 €",
    ]
    assert ageing.count("overdue") == 2
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    assert [r.count("B2") + r.count("C3") * 10 + r.count("D4") * 100 for r in rows] == [
        0,
        1,
        10,
        100,
        0,
    ]
    assert [re.findall(AMOUNT, r)[-1] for r in rows] == [
        "500,00 €",
        "1 100,00 €",
        "1 000,00 €",
        "1 300,00 €",
        "1 300,00 €",
    ]


def test_a_payment_is_a_movement_of_the_day_it_was_paid(logged_in, history):
    page = normalise(logged_in.get(f"/releve/?{period(120, 61)}").get_data(as_text=True))
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    # opening: E5 (500); A1 issued (1,200) then paid (1,200 in the credit column);
    # open on the last day: E5 alone (B2, D4 came later, A1 was paid)
    ageing = page.split("Ouvert au", 1)[1].split("</article>", 1)[0]
    assert re.findall(AMOUNT, ageing)[-2:] == ["500,00 €", "500,00 €"]
    assert ageing.count("overdue") == 1
    assert "Paiement" in rows[2] and "A1" in rows[2]
    assert [re.findall(AMOUNT, r)[-1] for r in rows] == [
        "500,00 €",
        "1 700,00 €",
        "500,00 €",
        "500,00 €",
    ]


def test_csv_and_pdf_say_what_the_screen_says(logged_in, history):
    csv = logged_in.get(f"/releve/export.csv?{period()}").get_data(as_text=True)
    lines = csv.lstrip("\ufeff").splitlines()
    assert lines[0] == "Date;Type;Numéro;Date d’échéance;Débit;Crédit;Solde"
    assert lines[1].startswith(f"{date.fromisoformat(day(60)):%d/%m/%Y};Solde d’ouverture")
    assert lines[1].endswith(";500,00")
    assert lines[3].split(";")[1:] == ["Avoir", "C3", "", "", "100,00", "1000,00"]
    assert lines[-1].endswith("Solde de clôture;;;;;1300,00")
    standard = logged_in.get(f"/releve/export.csv?dialect=std&{period()}").get_data(as_text=True)
    assert standard.splitlines()[2].split(",")[1:] == [
        "invoice",
        "B2",
        day(20),
        "600.00",
        "",
        "1100.00",
    ]
    answer = logged_in.get(f"/releve/releve.pdf?{period()}")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = normalise("".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.data)).pages))
    for word in ("Relevé de compte", "B2", "C3", "D4", "1 300,00 €", "Plus de 90 jours"):
        assert word in text


def test_a_long_pdf_repeats_its_header_wraps_wide_labels_and_embeds_its_fonts(logged_in, history):
    wide = "W" * 32  # the longest number an invoice may have, in the widest letter
    import_invoices(
        [invoice(f"L{n:03d}", date=day(30), due_date=day(0), total_ttc="10.00") for n in range(120)]
        + [invoice(wide, date=day(30), due_date=day(0), total_ttc="10.00")]
    )
    answer = logged_in.get(f"/releve/releve.pdf?{period()}")
    assert answer.status_code == 200
    pages = PdfReader(io.BytesIO(answer.data)).pages
    texts = [normalise(page.extract_text()) for page in pages]
    assert len(pages) >= 3
    for number, text in enumerate(texts, start=1):
        assert "Mouvement" in text and "Débit" in text and "Solde" in text
        assert f"page {number}" in text
    whole = "\n".join(texts)
    assert all(f"L{n:03d}" in whole for n in range(120))
    # a number wider than its column wraps inside it, whole
    assert whole.replace("\n", "").count(wide) == 1
    assert "Solde de clôture" in texts[-1] and "2 510,00 €" in texts[-1]
    fonts = {
        font["/BaseFont"]: font["/FontDescriptor"]
        for page in pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert {name.split("+")[1] for name in fonts} == {
        "BitstreamVeraSans-Roman",
        "BitstreamVeraSans-Bold",
    }
    assert all("/FontFile2" in descriptor for descriptor in fonts.values())


def test_a_pdf_too_long_is_refused_by_name(app, logged_in, history):
    app.config["STATEMENT_PDF_LINES"] = 2
    try:
        answer = logged_in.get(f"/releve/releve.pdf?{period()}")
        page = logged_in.get(f"/releve/?{period()}").get_data(as_text=True)
    finally:
        app.config["STATEMENT_PDF_LINES"] = 2000
    assert answer.status_code == 422
    assert "3 mouvements" in answer.get_data(as_text=True)
    assert "releve.pdf" not in page and "choisissez une période plus courte" in page


def test_bad_periods_are_named_and_the_defaults_stand_in(logged_in, history):
    page = logged_in.get("/releve/?from=2026-13-01&currency=XYZ").get_data(as_text=True)
    assert "2026-13-01 n’est pas une date" in page
    assert "Aucune facture n’est en XYZ" in page
    swapped = logged_in.get(f"/releve/?from={day(0)}&to={day(60)}")
    assert swapped.status_code == 200
    text = swapped.get_data(as_text=True)
    assert "les dates ont été inversées" in text and "3 résultats" in text
    assert logged_in.get("/releve/export.csv?dialect=xx").status_code == 400


def test_the_statement_holds_only_the_scope(client, history):
    other = make_org("Client 2", codes=("09000001",))
    import_invoices([invoice("Z9", client_code="09000001", date=day(5))])
    stranger = make_user("eve@client2.example.com", other, role="admin")
    assert client.login(stranger.email).status_code == 302
    page = client.get(f"/releve/?{period()}").get_data(as_text=True)
    assert ">Z9<" in page and ">B2<" not in page and ">D4<" not in page  # link texts
    csv = client.get(f"/releve/export.csv?{period()}").get_data(as_text=True)
    assert ";Z9;" in csv and ";B2;" not in csv


def links(page: str) -> dict[str, str]:
    """The statement's page links by rel (first, prev, next, last)."""
    found = re.findall(r'<a href="(/releve/\?[^"]+)" rel="(\w+)"', page)
    return {rel: href.replace("&amp;", "&") for href, rel in found}


def balances(page: str) -> list[str]:
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    return [re.findall(AMOUNT, normalise(r))[-1] for r in rows]


def test_pages_go_on_from_where_the_last_one_stopped(logged_in, org):
    """50 movements a page, each page after the key of the last one shown: the balance
    runs on across pages, the end shows the closing balance, and back is back."""
    import_invoices(
        [
            invoice(f"N{n:03d}", date=day(n % 40), total_ht="10.00", total_ttc="12.00")
            for n in range(120)
        ]
    )
    first = logged_in.get(f"/releve/?{period()}").get_data(as_text=True)
    assert "Affichage de 1 à 50 sur 120 résultats" in first
    assert set(links(first)) == {"next", "last"}
    assert balances(first)[0] == "0,00 €" and balances(first)[-1] == "600,00 €"  # 50 × 12
    second = logged_in.get(links(first)["next"]).get_data(as_text=True)
    assert "Affichage de 51 à 100 sur 120 résultats" in second
    assert balances(second)[0] == "612,00 €" and balances(second)[-1] == "1 200,00 €"
    assert set(links(second)) == {"first", "prev", "next", "last"}
    back = logged_in.get(links(second)["prev"]).get_data(as_text=True)
    assert balances(back)[1:] == balances(first)[1:]  # without the opening balance's row
    end = logged_in.get(links(second)["last"]).get_data(as_text=True)
    assert "Affichage de 71 à 120 sur 120 résultats" in end
    assert balances(end)[-2:] == ["1 440,00 €", "1 440,00 €"]  # the last line, the closing
    assert set(links(end)) == {"first", "prev"}
    lost = logged_in.get(f"/releve/?{period()}&after=2026-99-01.0.1").get_data(as_text=True)
    assert "Cette page du relevé n’existe pas" in lost and "Affichage de 1 à 50" in lost


def test_every_page_runs_the_balance_the_csv_runs(logged_in, org):
    """Each page's balances, reached forwards, from the end and backwards, are the CSV's:
    a page's starting balance is counted from the nearer end of the period."""
    items = []
    for n in range(140):
        amount = f"{10 + n * 7 % 90}.{n % 100:02d}"
        if n % 9 == 0:
            items.append(
                invoice(
                    f"K{n:03d}",
                    type="credit_note",
                    date=day(n % 55),
                    due_date=None,
                    total_ht=f"-{amount}",
                    total_ttc=f"-{amount}",
                )
            )
        elif n % 3 == 0:
            issued = 5 + n % 50
            items.append(
                invoice(
                    f"P{n:03d}",
                    date=day(issued),
                    total_ht=amount,
                    total_ttc=amount,
                    status="paid",
                    paid_on=day(issued - 1 - n % 5),
                )
            )
        else:
            items.append(invoice(f"N{n:03d}", date=day(n % 58), total_ht=amount, total_ttc=amount))
    import_invoices(items)
    csv = logged_in.get(f"/releve/export.csv?dialect=std&{period()}").get_data(as_text=True)
    expected = [line.rsplit(",", 1)[1] for line in csv.lstrip("\ufeff").splitlines()[2:-1]]
    assert len(expected) > 150  # more than three pages, payments and credit notes in them

    def figures(page: str) -> list[str]:
        return [b.replace(" ", "").replace("€", "").replace(",", ".") for b in balances(page)]

    seen, url = [], f"/releve/?{period()}"
    while url:
        page = logged_in.get(url).get_data(as_text=True)
        found = figures(page)
        seen += found[1:] if not seen else found  # the first page opens with the opening
        url = links(page).get("next")
    assert seen[:-1] == expected  # and the closing balance ends the last page
    page = logged_in.get(f"/releve/?{period()}&last=1").get_data(as_text=True)
    assert figures(page)[:-1] == expected[-50:]
    back = logged_in.get(links(page)["prev"]).get_data(as_text=True)
    assert figures(back) == expected[-100:-50]


def test_a_page_of_the_statement_costs_the_same_queries_however_deep(logged_in, org, count_queries):
    import_invoices([invoice(f"N{n}", date=day(n % 50)) for n in range(120)])
    second = links(logged_in.get(f"/releve/?{period()}").get_data(as_text=True))["next"]
    with count_queries() as few:
        assert logged_in.get(second).status_code == 200
    import_invoices([invoice(f"M{n}", date=day(n % 50)) for n in range(300)])
    with count_queries() as many:
        assert logged_in.get(f"/releve/?{period()}&last=1").status_code == 200
    assert len(many) == len(few) <= 16


def test_the_widget_says_what_is_due_and_overdue(logged_in, history):
    widget = normalise(
        logged_in.get("/releve/widget", headers={"HX-Request": "true"}).get_data(as_text=True)
    )
    # due: B2 500 + D4 300 + E5 500; overdue: B2 and E5
    assert "1 300,00 €" in widget and "1 000,00 €" in widget


def test_the_app_follows_the_invoices_app(logged_in, history, enable_app):
    enable_app("invoices", False)
    assert logged_in.get("/releve/").status_code == 404


def test_the_import_keeps_the_day_an_invoice_was_paid(org):
    import_invoices([invoice("P1", status="paid")])
    assert db.session.scalar(select(Invoice.paid_on)) == TODAY  # the day it said so
    import_invoices([invoice("P1", status="paid", paid_on=day(3))])
    assert db.session.scalar(select(Invoice.paid_on)) == TODAY - timedelta(days=3)
    import_invoices([invoice("P1", status="paid", subscriber="CLIENT 1 bis")])
    db.session.expire_all()
    assert db.session.scalar(select(Invoice.paid_on)) == TODAY - timedelta(days=3)  # kept
    import_invoices([invoice("P1", status="to_pay")])
    db.session.expire_all()
    assert db.session.scalar(select(Invoice.paid_on)) is None
    for bad, reason in (
        ({"paid_on": day(1)}, "only a paid invoice"),
        ({"status": "paid", "paid_on": day(30)}, "on or after its date"),
        ({"status": "paid", "paid_on": "yesterday"}, "paid_on"),
    ):
        with pytest.raises(ImportRejected, match=reason):
            import_invoices([invoice("P2", **bad)])
    assert db.session.scalar(select(Invoice.id).where(Invoice.number == "P2")) is None


def test_credits_set_against_no_invoice_reconcile_the_balance(logged_in, history):
    """The closing balance is what is open, less the credits that wait for an invoice."""
    page = normalise(logged_in.get(f"/releve/?{period()}").get_data(as_text=True))
    assert "Crédits non imputés" not in page  # every credit note of the history cancels one
    import_invoices(
        [
            invoice(
                "C9",
                type="credit_note",
                date=day(5),
                due_date=None,
                total_ht="-50.00",
                total_ttc="-50.00",
            )
        ]
    )
    page = normalise(logged_in.get(f"/releve/?{period()}").get_data(as_text=True))
    ageing = page.split("Ouvert au", 1)[1].split("</article>", 1)[0]
    assert re.findall(AMOUNT, ageing)[-2:] == ["1 300,00 €", "-50,00 €"]
    assert "Crédits non imputés à une facture" in ageing
    assert "1 250,00 €" in page.split("Solde de clôture", 1)[1]
