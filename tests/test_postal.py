"""Postal mail: documents and addresses checked, the price from the provider's table,
the wallet debited and the letter queued in one transaction, the print shop's outbox
and status files, refunds once."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from core import jobs, ledger
from core.extensions import db
from core.postal import LetterOptions, postal_provider
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.postal import sending
from plugins.postal.address import check_address
from plugins.postal.models import Letter
from plugins.postal.printing import window_is_free
from tests.conftest import invoice_item, make_org, make_user, run_together

ADDRESS = "CLIENT 2\nSERVICE COMPTABILITÉ\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"
DRAFT = re.compile(r'name="draft" value="([^"]+)"')


@pytest.fixture(autouse=True)
def empty_folders(app):
    """Letter references restart with the database: each test gets empty folders."""
    shutil.rmtree(Path(app.config["INSTANCE_PATH"]) / "postal", ignore_errors=True)


def pdf(pages: int = 1, size=A4, text: str = "Objet : votre commande") -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=size)
    for _ in range(pages):
        sheet.drawString(72, size[1] - 72, text)
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def all_fonts_embedded(reader: PdfReader) -> bool:
    """Every font of every page carries its font file (print shops require it)."""
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = (
                font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            ).get("/FontDescriptor")
            if descriptor is None or not {"/FontFile", "/FontFile2", "/FontFile3"} & set(
                descriptor.get_object()
            ):
                return False
    return True


def fund(org, cents: int) -> None:
    ledger.post(org.id, "topup", cents, f"fund-{cents}")
    db.session.commit()


def letters() -> int:
    return db.session.scalar(select(func.count()).select_from(Letter))


def preview(client, data: bytes | None = None, address: str = ADDRESS, **fields):
    form = {"address": address, "country": "FR", **fields}
    if data is not None:
        form["document"] = (io.BytesIO(data), "commande.pdf")
    return client.post("/courrier/nouveau", data=form, content_type="multipart/form-data")


def confirm(client, page: str, address: str = ADDRESS, **fields):
    draft = DRAFT.search(page).group(1)
    form = {"draft": draft, "address": address, "country": "FR", **fields}
    return client.post("/courrier/envoyer", data=form)


def outbox(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "postal" / "outbox"


def status_file(app, reference: str, status: str, detail: str = "") -> None:
    inbox = Path(app.config["INSTANCE_PATH"]) / "postal" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"{reference}.json").write_text(json.dumps({"status": status, "detail": detail}))


def test_the_default_price_table():
    provider = postal_provider()
    assert provider.price(1, LetterOptions()) == 145
    assert provider.price(2, LetterOptions()) == 155
    assert provider.price(1, LetterOptions(colour=True)) == 165
    assert provider.price(1, LetterOptions(registered=True, priority=True)) == 145 + 520 + 60


@pytest.mark.parametrize(
    "text, country, message",
    [
        ("CLIENT 2\n1 RUE A\n2\n3\n4\n5\n75015 PARIS", "FR", "au plus 6 lignes"),
        ("CLIENT 2\n" + "X" * 39 + "\n75015 PARIS", "FR", "La ligne 2 compte 39 caractères"),
        ("CLIENT 2\n9 RUE DU COLONEL PIERRE AVIA\nPARIS", "FR", "code postal et la ville"),
        ("CLIENT 2\nRUE NEUVE 1\n1000 BRUXELLES", "BE", "«\xa0BELGIQUE\xa0»"),
        ("CLIENT 2", "FR", "au moins le nom"),
        (ADDRESS, "ZZ", "Choisissez le pays"),
    ],
)
def test_addresses_follow_the_postal_rules(text, country, message):
    _lines, errors = check_address(text, country)
    assert any(message in e for e in errors), errors


def test_good_addresses_pass():
    assert check_address(ADDRESS + "\n\n", "FR") == (ADDRESS.splitlines(), [])
    lines, errors = check_address("CLIENT 2\nRUE NEUVE 1\n1000 BRUXELLES\nBelgique", "BE")
    assert errors == [] and lines[-1] == "Belgique"


def test_a_letter_is_previewed_paid_queued_and_handed_to_the_print_shop(app, logged_in, org):
    fund(org, 1000)
    page = preview(logged_in, pdf(2), colour="")
    assert page.status_code == 200, page.get_data(as_text=True)
    text = page.get_data(as_text=True).replace("\xa0", " ").replace("\u202f", " ")
    assert 'id="preview-pages">2<' in text and "1,55 €" in text and "10,00 €" in text
    assert "75015 PARIS" in text
    assert letters() == 0 and ledger.balance(org.id) == 1000  # a preview costs nothing

    response = confirm(logged_in, text)
    assert response.status_code == 303
    letter = db.session.scalar(select(Letter))
    assert (letter.status, letter.price, letter.pages) == ("queued", 155, 2)
    assert ledger.balance(org.id) == 845
    assert jobs.drain(app) == 1
    db.session.refresh(letter)
    assert letter.status == "submitted" and letter.reference == f"L{letter.id:08d}"
    manifest = json.loads((outbox(app) / f"{letter.reference}.json").read_text())
    assert manifest["address"][-1] == "75015 PARIS" and manifest["pages"] == 2
    printed = PdfReader(outbox(app) / f"{letter.reference}.pdf")
    assert len(printed.pages) == 2  # the window was free: no cover page
    assert "75015 PARIS" in printed.pages[0].extract_text()
    assert not window_is_free(printed.pages[0])
    fonts = printed.pages[0]["/Resources"]["/Font"]
    address_font = [
        f.get_object() for f in fonts.values() if "Vera" in f.get_object()["/BaseFont"]
    ][0]
    assert "/FontFile2" in address_font["/FontDescriptor"]  # the font is embedded

    again = confirm(logged_in, text)  # the same preview confirmed again
    assert again.status_code == 303 and letters() == 1 and ledger.balance(org.id) == 845
    detail = logged_in.get(f"/courrier/{letter.id}").get_data(as_text=True)
    assert "Remis à l’imprimeur" in detail and "En file d’attente" in detail
    listing = logged_in.get("/courrier/").get_data(as_text=True)
    assert "commande.pdf" in listing and "CLIENT 2" in listing


def test_a_document_with_text_in_the_window_gets_a_cover_page(app, logged_in, org):
    fund(org, 1000)
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    sheet.drawString(330, A4[1] - 170, "Adresse déjà imprimée")  # inside the window zone
    sheet.save()
    crowded = buffer.getvalue()
    page = preview(logged_in, crowded).get_data(as_text=True)
    assert 'id="preview-pages">2 (' in page and "une page de garde" in page
    assert confirm(logged_in, page).status_code == 303
    jobs.drain(app)
    letter = db.session.scalar(select(Letter))
    printed = PdfReader(outbox(app) / f"{letter.reference}.pdf")
    assert len(printed.pages) == 2 and "75015 PARIS" in printed.pages[0].extract_text()
    assert "Adresse déjà imprimée" in printed.pages[1].extract_text()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"hello, not a pdf", "n’est pas un PDF"),
        (b"%PDF-1.4 broken", "endommagé"),
        (None, "Choisissez le PDF"),
        ("encrypted", "protégé par un mot de passe"),
        ("letter", "n’est pas au format A4"),
        ("long", "au plus 20"),
        ("big", "dépasse 5 Mo"),
    ],
)
def test_bad_documents_are_refused_with_a_clear_message(logged_in, org, data, message):
    fund(org, 1000)
    big = pdf() + b"%" + b"0" * (5 * 1024 * 1024)  # a comment that pads the file
    samples = {
        "encrypted": encrypted_pdf(),
        "letter": pdf(size=LETTER),
        "long": pdf(21),
        "big": big,
    }
    data = samples.get(data, data) if isinstance(data, str) else data
    response = preview(logged_in, data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace("'", "’")
    assert letters() == 0 and ledger.balance(org.id) == 1000


def test_a_bad_address_or_an_option_not_offered_is_refused(app, logged_in, org, monkeypatch):
    fund(org, 1000)
    response = preview(logged_in, pdf(), address="CLIENT 2\nPARIS")
    assert response.status_code == 422 and "code postal" in response.get_data(as_text=True)
    monkeypatch.setattr(type(postal_provider()), "offers", frozenset({"colour"}))
    response = preview(logged_in, pdf(), registered="y")
    assert response.status_code == 422
    assert "Recommandé avec accusé de réception" in response.get_data(as_text=True)


def test_a_short_balance_sends_nothing(logged_in, org, enable_app):
    fund(org, 100)
    page = preview(logged_in, pdf()).get_data(as_text=True)
    assert "ne couvre pas ce courrier" in page and "/porte-monnaie/recharger" in page
    assert 'action="/courrier/envoyer"' not in page
    draft = DRAFT.search(page)
    assert draft is None  # nothing to confirm; a forged confirmation is refused below
    enable_app("payments", False)  # no top-up to offer: the wallet's link goes
    page = preview(logged_in, pdf()).get_data(as_text=True)
    assert "ne couvre pas ce courrier" in page and "/porte-monnaie/recharger" not in page


def test_a_confirmation_the_balance_no_longer_covers_changes_nothing(logged_in, org):
    fund(org, 145)
    page = preview(logged_in, pdf()).get_data(as_text=True)
    ledger.post(org.id, "postage", -100, "elsewhere")
    db.session.commit()
    response = confirm(logged_in, page)
    assert response.status_code == 422 and "ne couvre pas" in response.get_data(as_text=True)
    assert letters() == 0 and ledger.balance(org.id) == 45


def test_two_confirmations_at_once_send_one_letter(app, logged_in, org):
    fund(org, 1000)
    page = preview(logged_in, pdf()).get_data(as_text=True)
    answers = run_together(app, 6, lambda n: confirm(logged_in, page).status_code)
    assert answers == [303] * 6
    db.session.expire_all()
    assert letters() == 1 and ledger.balance(org.id) == 855
    assert ledger.check(org.id) == (855, 855)


def test_drafts_cannot_be_forged_or_borrowed(app, logged_in, org):
    fund(org, 1000)
    page = preview(logged_in, pdf()).get_data(as_text=True)
    draft = DRAFT.search(page).group(1)
    payload, signature = draft.rsplit(".", 1)
    forged_signature = ("B" if signature[0] == "A" else "A") + signature[1:]  # 6 bits changed
    form = {"draft": f"{payload}.{forged_signature}", "address": ADDRESS, "country": "FR"}
    forged = logged_in.post("/courrier/envoyer", data=form)
    assert forged.status_code == 404
    other = make_org("Client 2", codes=("00009999",))
    fund(other, 1000)
    stranger = app.test_client()
    make_user("them@client2.example.com", other)
    stranger.login("them@client2.example.com")
    assert confirm(stranger, page).status_code == 404
    assert stranger.get(f"/courrier/apercu.pdf?draft={draft}").status_code == 404
    assert letters() == 0


def test_the_print_shops_status_files_move_letters_and_refund_once(app, logged_in, org):
    fund(org, 1000)
    for _ in range(2):
        confirm(logged_in, preview(logged_in, pdf()).get_data(as_text=True))
    jobs.drain(app)
    printed, failed = db.session.scalars(select(Letter).order_by(Letter.id)).all()
    assert ledger.balance(org.id) == 1000 - 2 * 145
    status_file(app, printed.reference, "printed")
    status_file(app, failed.reference, "failed", "Adresse illisible")
    assert sending.poll() == 2 and sending.poll() == 0
    db.session.expire_all()
    assert (printed.status, failed.status) == ("printed", "failed")
    assert failed.refunded and ledger.balance(org.id) == 1000 - 145
    status_file(app, printed.reference, "failed")  # after printing: no refund
    assert sending.poll() == 1
    db.session.expire_all()
    assert not printed.refunded and ledger.balance(org.id) == 1000 - 145
    status_file(app, printed.reference, "submitted")  # never backwards
    assert sending.poll() == 0
    detail = logged_in.get(f"/courrier/{failed.id}").get_data(as_text=True)
    assert "Adresse illisible" in detail and "remboursé" in detail
    from plugins.postal import letters_by_status  # what /metrics gives operators

    assert letters_by_status() == {("failed",): 2}


def test_an_invoice_is_sent_by_post_from_its_page(app, logged_in, org):
    fund(org, 1000)
    import_invoices(
        [
            invoice_item(
                "70001",
                recipient={
                    "name": "CLIENT 1",
                    "address": "SERVICE COMPTABILITÉ\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS",
                },
            )
        ]
    )
    invoice_id = db.session.scalar(select(Invoice.id))
    detail = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert f"/courrier/nouveau?invoice_id={invoice_id}" in detail
    form = logged_in.get(f"/courrier/nouveau?invoice_id={invoice_id}").get_data(as_text=True)
    assert "CLIENT 1\nSERVICE COMPTABILITÉ" in form and "Facture 70001" in form
    address = "CLIENT 1\nSERVICE COMPTABILITÉ\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"
    page = preview(logged_in, address=address, invoice_id=invoice_id)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert confirm(logged_in, page.get_data(as_text=True), address=address).status_code == 303
    letter = db.session.scalar(select(Letter))
    assert letter.invoice_id == invoice_id and letter.title == "Facture 70001"
    jobs.drain(app)
    db.session.refresh(letter)
    printed = PdfReader(outbox(app) / f"{letter.reference}.pdf")
    assert all_fonts_embedded(printed) and "70001" in printed.pages[-1].extract_text()
    # the invoice's own text fills the window's zone: the address goes on a cover page
    assert len(printed.pages) == 2 and "75015 PARIS" in printed.pages[0].extract_text()
    detail = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert "Envoyé par courrier le" in detail


def test_another_organisations_invoice_cannot_be_posted(logged_in, org):
    make_org("Client 2", codes=("00009999",))
    import_invoices([invoice_item("Z-1", client_code="00009999")])
    foreign = db.session.scalar(select(Invoice.id))
    assert logged_in.get(f"/courrier/nouveau?invoice_id={foreign}").status_code == 404
    assert preview(logged_in, invoice_id=foreign).status_code == 404


def test_a_letter_is_cancelled_and_refunded_until_the_print_shop_takes_it(app, logged_in, org):
    fund(org, 1000)
    for _ in range(3):
        confirm(logged_in, preview(logged_in, pdf()).get_data(as_text=True))
    queued, submitted, printed = db.session.scalars(select(Letter).order_by(Letter.id)).all()
    assert logged_in.post(f"/courrier/{queued.id}/annuler").status_code == 303
    jobs.drain(app)  # the other two are handed over; the cancelled one is not
    db.session.expire_all()
    assert queued.status == "cancelled" and queued.reference is None
    assert not (outbox(app) / f"L{queued.id:08d}.pdf").exists()
    logged_in.post(f"/courrier/{submitted.id}/annuler")
    db.session.expire_all()
    assert submitted.status == "cancelled" and submitted.refunded
    assert not (outbox(app) / f"{submitted.reference}.pdf").exists()
    status_file(app, printed.reference, "printed")
    sending.poll()
    page = logged_in.post(f"/courrier/{printed.id}/annuler", follow_redirects=True)
    assert "ne peut plus être annulé" in page.get_data(as_text=True)
    db.session.expire_all()
    assert printed.status == "printed" and ledger.balance(org.id) == 1000 - 145
    assert ledger.check(org.id) == (855, 855)

    csv = logged_in.get("/courrier/export.csv?dialect=std").get_data(as_text=True).splitlines()
    assert csv[0] == "date,document,recipient,country,pages,price,status,reference"
    assert [row.split(",")[-2] for row in csv[1:]] == ["printed", "cancelled", "cancelled"]
    french = logged_in.get("/courrier/export.csv").get_data(as_text=True).lstrip("\ufeff")
    assert french.splitlines()[0] == "Date;Document;Destinataire;Pays;Pages;Prix;Statut;Référence"
    assert french.splitlines()[1].split(";")[-2] == "Imprimé"
    only = logged_in.get("/courrier/export.csv?dialect=std&status=printed").get_data(as_text=True)
    assert len(only.splitlines()) == 2 and "1.45" in only


def test_admins_keep_terms_that_may_be_appended_to_an_invoice(app, client, org):
    member = app.test_client()
    make_user("member@client1.example.com", org)
    member.login("member@client1.example.com")
    assert member.get("/courrier/reglages").status_code == 404
    make_user("admin@client1.example.com", org, role="admin")
    client.login("admin@client1.example.com")
    upload = {"terms": (io.BytesIO(b"not a pdf"), "cgv.pdf")}
    refused = client.post("/courrier/reglages", data=upload, content_type="multipart/form-data")
    assert refused.status_code == 422 and "pas un PDF" in refused.get_data(as_text=True)
    upload = {"terms": (io.BytesIO(pdf(3)), "cgv.pdf")}
    assert (
        client.post(
            "/courrier/reglages", data=upload, content_type="multipart/form-data"
        ).status_code
        == 303
    )
    assert "3 pages" in client.get("/courrier/reglages").get_data(as_text=True)

    fund(org, 1000)
    import_invoices([invoice_item("70002")])
    invoice_id = db.session.scalar(select(Invoice.id))
    form = client.get(f"/courrier/nouveau?invoice_id={invoice_id}").get_data(as_text=True)
    assert "Joindre nos conditions générales (3 pages)" in form
    alone = preview(client, invoice_id=invoice_id).get_data(as_text=True)
    with_terms = preview(client, invoice_id=invoice_id, terms="y").get_data(as_text=True)
    pages = [int(re.search(r'id="preview-pages">(\d+)', p).group(1)) for p in (alone, with_terms)]
    assert pages[1] == pages[0] + 3
    assert "Facture 70002 et conditions générales" in with_terms


def test_the_instance_folder_is_known_without_being_configured(tmp_path, monkeypatch):
    """The worker starts as ``guichet worker`` does under ``make run``: the default
    instance folder, named nowhere; the print shop finds its folders under it."""
    import core
    from core.testing import database_url
    from plugins.postal.printshop import PrintShop

    monkeypatch.delenv("GUICHET_INSTANCE_PATH", raising=False)
    monkeypatch.setattr(core, "instance_path", lambda: tmp_path)  # the default folder
    worker_app = core.create_app({"SQLALCHEMY_DATABASE_URI": database_url(), "SECRET_KEY": "s"})
    assert worker_app.config["INSTANCE_PATH"] == str(tmp_path)
    outbox, prefix = PrintShop(worker_app.config).box("outbox")
    assert (outbox.root, prefix) == (tmp_path / "postal" / "outbox", "")


def test_a_letter_that_cannot_be_handed_over_is_tried_again_then_failed_and_refunded(
    app, logged_in, org, tmp_path, monkeypatch, operator, other_client
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the outbox cannot be made: every try fails
    monkeypatch.setitem(app.config, "POSTAL_OUTBOX", str(blocked / "outbox"))
    fund(org, 1000)
    confirm(logged_in, preview(logged_in, pdf(1)).get_data(as_text=True))
    assert ledger.balance(org.id) == 1000 - 145
    assert jobs.drain(app) == sending.MAX_ATTEMPTS  # each try after a growing delay
    letter = db.session.scalar(select(Letter))
    assert (letter.status, letter.refunded) == ("failed", True)
    assert ledger.balance(org.id) == 1000
    assert "not-a-folder" in letter.reason
    page = logged_in.get(f"/courrier/{letter.id}").get_data(as_text=True)
    assert "n’a pas pu être envoyé" in page and "not-a-folder" in page and "remboursé" in page
    other_client.login(operator.email)
    desk = other_client.get("/operator/courriers/?status=failed").get_data(as_text=True)
    assert "Client 1" in desk and "not-a-folder" in desk


def test_the_retries_of_a_task_wait_longer_each_time(app, logged_in, org, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setitem(app.config, "POSTAL_OUTBOX", str(blocked / "outbox"))
    fund(org, 1000)
    confirm(logged_in, preview(logged_in, pdf(1)).get_data(as_text=True))
    huey = jobs.queue(app)
    message, delays = huey.dequeue(), []
    for _ in range(3):
        now = datetime.now(UTC).replace(tzinfo=None)  # Huey's naive UTC
        huey.execute(message, message.eta or now)  # due: fails, is scheduled again
        [message] = huey.scheduled()
        huey.storage.flush_schedule()
        delays.append(round((message.eta - now).total_seconds()))
    assert delays == [30, 60, 120]
    assert db.session.scalar(select(Letter.status)) == "queued"  # still being tried


def test_a_letter_whose_worker_stopped_is_submitted_again_once(app, logged_in, org):
    """The worker holding a letter's submission was killed: the task is gone with it
    and the letter stays queued. After :data:`sending.STUCK` it is submitted again,
    once; a letter queued a moment ago, or between two tries, is left alone."""
    fund(org, 1000)
    for _ in range(2):
        confirm(logged_in, preview(logged_in, pdf()).get_data(as_text=True))
    for queue in jobs.queues(app):
        queue.flush()  # the worker died holding both submissions
    lost, recent = db.session.scalars(select(Letter).order_by(Letter.id)).all()
    lost.updated_at = datetime.now(UTC) - sending.STUCK - timedelta(minutes=1)
    db.session.commit()
    assert sending.resume() == 1 and sending.resume() == 0  # its clock restarted
    assert jobs.drain(app) == 1
    db.session.expire_all()
    assert (lost.status, recent.status) == ("submitted", "queued")
    assert (outbox(app) / f"{lost.reference}.pdf").exists()
    assert ledger.balance(org.id) == 1000 - 2 * 145  # paid once each, nothing refunded
    assert "postal.resume" in {t.name for t in jobs.queue(app)._registry.periodic_tasks}
