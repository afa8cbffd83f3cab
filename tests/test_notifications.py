"""Invoice notifications: addresses, e-mails sent through the job queue to a real SMTP
server (aiosmtpd), each exactly once, with the invoice's PDF read back."""

import json
import os
import threading
import time
from datetime import timedelta
from io import BytesIO

import pytest
from facturx import get_facturx_xml_from_pdf
from pypdf import PdfReader
from sqlalchemy import select, update

from core import jobs
from core.activation import set_app_enabled
from core.extensions import db
from core.models import utcnow
from plugins.einvoicing.validation import failed_rules
from plugins.notifications import sending
from plugins.notifications.models import Delivery, Subscription
from tests.conftest import invoice_item as invoice
from tests.conftest import make_app, make_user, run_cli


def import_file(app, tmp_path, *invoices):
    """Import through the CLI, in its own app context, as the provider's job does."""
    path = tmp_path / f"invoices-{time.monotonic_ns()}.json"
    path.write_text(json.dumps({"invoices": list(invoices)}))
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 0, result.output


def subscribe(client, email="compta@client1.example.com", **fields):
    data = {"email": email, "attachments": "y", "kinds": "all", "frequency": "each"}
    data.update(fields)
    return client.post("/factures/notifications/", data={k: v for k, v in data.items() if v})


def deliveries() -> list[Delivery]:
    db.session.expire_all()
    return db.session.scalars(select(Delivery).order_by(Delivery.id)).all()


def plain(text: str) -> str:
    """Babel's French formats use no-break spaces; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def pdf_text(part) -> str:
    reader = PdfReader(BytesIO(part.get_content()))
    return plain(" ".join(page.extract_text() for page in reader.pages))


def test_new_invoice_is_emailed_in_each_recipients_language_with_its_pdf(
    app, logged_in, org, smtp_server, tmp_path
):
    assert subscribe(logged_in).status_code == 302
    english = make_user("sam@client1.example.com", org, locale="en")
    client = app.test_client()
    assert client.login(english.email).status_code == 302
    logged_in.post("/factures/notifications/settings", data={"users_may_subscribe": "y"})
    assert subscribe(client, english.email, attachments="").status_code == 302

    import_file(app, tmp_path, invoice())
    # the fan-out, the PDF made ahead, the e-invoice check, one batch of deliveries
    assert jobs.drain(app) == 4

    by_address = {m["To"]: m for m in smtp_server.messages}
    assert sorted(by_address) == ["compta@client1.example.com", "sam@client1.example.com"]
    french = by_address["compta@client1.example.com"]
    assert plain(french["Subject"]) == "Facture 62274737 : 67 520,70 €"
    body = plain(french.get_body(("plain",)).get_content())
    invoice_id = db.session.scalar(select(Delivery.invoice_ids))[0]
    assert f"http://guichet.test/factures/{invoice_id}" in body
    assert "Montant TTC : 67 520,70 €" in body or "Montant TTC: 67 520,70 €" in body
    attachments = list(french.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["facture-62274737.pdf"]
    text = pdf_text(attachments[0])
    assert "62274737" in text and "67 520,70" in text

    english_message = by_address["sam@client1.example.com"]
    assert english_message["Subject"] == "Invoice 62274737: €67,520.70"
    assert "Amount incl. VAT: €67,520.70" in english_message.get_body(("plain",)).get_content()
    assert list(english_message.iter_attachments()) == []
    assert [d.status for d in deliveries()] == ["sent", "sent"]

    log = logged_in.get("/factures/notifications/journal").get_data(as_text=True)
    assert "compta@client1.example.com" in log and "62274737" in log and "Envoyé" in log


def test_addresses_receive_only_the_accounts_and_kinds_they_chose(
    app, logged_in, org, smtp_server, tmp_path
):
    second = next(a for a in org.accounts if a.client_code == "04008041")
    subscribe(logged_in, "avoirs@client1.example.com", kinds="credit_note", accounts=second.id)
    import_file(
        app,
        tmp_path,
        invoice("1"),
        invoice("2", client_code="04008041"),
        invoice("3", type="credit_note", total_ht="-12.00", total_ttc="-14.40"),
        invoice(
            "4", type="credit_note", total_ht="-1.00", total_ttc="-1.20", client_code="04008041"
        ),
    )
    jobs.drain(app)
    assert [m["Subject"].split()[1] for m in smtp_server.messages] == ["4"]
    assert smtp_server.messages[0]["Subject"].startswith("Avoir 4")


def test_a_duplicate_event_or_task_sends_one_email(app, logged_in, org, smtp_server, tmp_path):
    subscribe(logged_in)
    import_file(app, tmp_path, invoice())
    invoice_id = db.session.scalar(select(Delivery.id))  # none yet: fan-out not run
    assert invoice_id is None
    from plugins.invoices.models import Invoice

    stored = db.session.scalar(select(Invoice.id))
    sending.fan_out([stored])  # the same event, delivered again
    sending.fan_out([stored])
    jobs.drain(app)
    [delivery] = deliveries()
    sending.deliver([delivery.id])  # and the delivery task, run again
    jobs.drain(app)
    assert len(smtp_server.messages) == 1
    assert deliveries()[0].attempts == 1


def test_a_worker_stopped_between_sending_and_recording_never_sends_twice(
    app, logged_in, org, smtp_server, tmp_path, monkeypatch
):
    subscribe(logged_in)

    def stopped(delivery, message_id):
        raise KeyboardInterrupt  # what Huey's consumer gets when the worker is stopped

    monkeypatch.setattr(sending, "mark_sent", stopped)
    import_file(app, tmp_path, invoice())
    jobs.drain(app)
    assert len(smtp_server.messages) == 1
    [delivery] = deliveries()
    assert delivery.status == "sending"

    monkeypatch.undo()
    sending.deliver([delivery.id])  # a new try of the same delivery
    jobs.drain(app)
    db.session.execute(
        update(Delivery).values(updated_at=utcnow() - sending.STALE - timedelta(minutes=1))
    )
    db.session.commit()
    assert sending.sweep() == 1
    assert len(smtp_server.messages) == 1
    [delivery] = deliveries()
    assert delivery.status == "uncertain" and "not sent again" in delivery.error


def test_a_server_that_refuses_then_accepts_gets_one_email(
    app, logged_in, org, smtp_server, tmp_path
):
    subscribe(logged_in)
    smtp_server.refuse_next = 2
    import_file(app, tmp_path, invoice())
    jobs.drain(app)  # runs the retries scheduled after each refusal
    assert len(smtp_server.messages) == 1
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert delivery.error == ""


def test_an_address_refused_for_good_fails_then_is_flagged(
    app, logged_in, org, smtp_server, tmp_path
):
    subscribe(logged_in, "gone@client1.example.com")
    smtp_server.unknown = {"gone@client1.example.com"}
    for number in ("1", "2", "3"):
        import_file(app, tmp_path, invoice(number))
        jobs.drain(app)
    assert [d.status for d in deliveries()] == ["failed"] * 3
    assert "550" in deliveries()[0].error
    subscription = db.session.scalar(select(Subscription))
    assert subscription.flagged and subscription.failures == 3
    page = logged_in.get("/factures/notifications/").get_data(as_text=True)
    assert "a échoué 3 fois" in page

    import_file(app, tmp_path, invoice("4"))  # flagged: nothing more is attempted
    jobs.drain(app)
    assert len(deliveries()) == 3

    smtp_server.unknown = set()
    data = {
        "email": "gone@client1.example.com",
        "attachments": "y",
        "kinds": "all",
        "frequency": "each",
        "for_organisation": "y",
    }
    response = logged_in.post(
        f"/factures/notifications/{subscription.id}",
        data={f"s{subscription.id}-{k}": v for k, v in data.items()},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Subscription, subscription.id).flagged


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not an address", "adresse e-mail valide"),
        ("someone@localhost", "adresse e-mail valide"),  # no domain form
        ("", "Ce champ est requis"),
    ],
)
def test_bad_addresses_are_refused_with_a_message(logged_in, email, message):
    response = subscribe(logged_in, email)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Subscription)) is None


def test_users_subscribe_for_themselves_only_when_the_organisation_allows(app, logged_in, org):
    member = make_user("dominique@client1.example.com", org)
    client = app.test_client()
    assert client.login(member.email).status_code == 302
    assert subscribe(client, member.email).status_code == 403
    assert client.post("/factures/notifications/settings", data={}).status_code == 403
    logged_in.post("/factures/notifications/settings", data={"users_may_subscribe": "y"})
    assert subscribe(client, member.email, for_organisation="y").status_code == 302
    subscribe(logged_in, "compta@client1.example.com", for_organisation="y")
    mine = db.session.scalar(select(Subscription).where(Subscription.user_id == member.id))
    assert mine is not None  # a member's address is its own, whatever it asks
    page = client.get("/factures/notifications/").get_data(as_text=True)
    assert member.email in page and "compta@client1.example.com" not in page
    admins = db.session.scalar(select(Subscription).where(Subscription.user_id.is_(None)))
    assert client.post(f"/factures/notifications/{admins.id}/delete").status_code == 404


def test_a_member_restricted_to_an_account_gets_only_its_invoices(
    app, logged_in, org, smtp_server, tmp_path
):
    logged_in.post("/factures/notifications/settings", data={"users_may_subscribe": "y"})
    member = make_user("restricted@client1.example.com", org, accounts=("04008041",))
    client = app.test_client()
    assert client.login(member.email).status_code == 302
    assert subscribe(client, member.email).status_code == 302
    import_file(app, tmp_path, invoice("1"), invoice("2", client_code="04008041"))
    jobs.drain(app)
    assert [m["Subject"].split()[1] for m in smtp_server.messages] == ["2"]


def test_selected_invoices_are_sent_to_a_typed_address(app, logged_in, org, smtp_server, tmp_path):
    import_file(app, tmp_path, invoice("1"), invoice("2", total_ht="10.00", total_ttc="12.00"))
    from plugins.invoices.models import Invoice

    ids = db.session.scalars(select(Invoice.id).order_by(Invoice.number)).all()
    listing = logged_in.get("/factures/").get_data(as_text=True)
    assert "Envoyer par e-mail" in listing
    page = logged_in.get(f"/factures/notifications/envoyer?id={ids[0]}&id={ids[1]}")
    assert page.status_code == 200 and "1, 2" in page.get_data(as_text=True)
    bad = logged_in.post("/factures/notifications/envoyer", data={"id": ids, "email": "nope"})
    assert bad.status_code == 422 and not deliveries()
    response = logged_in.post(
        "/factures/notifications/envoyer", data={"id": ids, "email": "boss@example.org"}
    )
    assert response.status_code == 302
    jobs.drain(app)
    [message] = smtp_server.messages
    assert message["To"] == "boss@example.org"
    names = [a.get_filename() for a in message.iter_attachments()]
    assert names == ["facture-1.pdf", "facture-2.pdf"]
    assert "12,00" in pdf_text(list(message.iter_attachments())[1])


def test_the_daily_digest_sends_the_new_invoices_once(app, logged_in, org, smtp_server, tmp_path):
    subscribe(logged_in, frequency="daily")
    import_file(app, tmp_path, invoice("1"), invoice("2"))
    jobs.drain(app)
    assert smtp_server.messages == []  # no e-mail per invoice
    assert sending.send_digests() == 1
    assert sending.send_digests() == 0  # nothing new since
    jobs.drain(app)
    [message] = smtp_server.messages
    assert message["Subject"] == "Vos nouvelles factures (2)"
    assert len(list(message.iter_attachments())) == 2


def test_without_smtp_settings_nothing_is_sent_and_the_portal_says_so(
    app, logged_in, org, smtp_server, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    page = logged_in.get("/factures/notifications/").get_data(as_text=True)
    assert "La messagerie n’est pas configurée" in page
    subscribe(logged_in)
    import_file(app, tmp_path, invoice())
    jobs.drain(app)
    assert smtp_server.messages == []
    [delivery] = deliveries()
    assert delivery.status == "failed" and "not configured" in delivery.error
    # never tried: not the address's fault, which is not any nearer to being flagged
    assert db.session.scalar(select(Subscription.failures)) == 0


def test_once_an_address_is_flagged_its_queued_emails_are_not_tried(
    app, logged_in, org, smtp_server, tmp_path
):
    subscribe(logged_in, "gone@client1.example.com")
    smtp_server.unknown = {"gone@client1.example.com"}
    import_file(app, tmp_path, *(invoice(str(n)) for n in range(5)))  # one batch of five
    jobs.drain(app)
    assert [d.status for d in deliveries()] == ["failed"] * 5
    assert ["550" in d.error for d in deliveries()] == [True] * 3 + [False] * 2
    assert "flagged" in deliveries()[4].error
    assert db.session.scalar(select(Subscription.failures)) == 3


def test_a_real_consumer_sends_the_emails(app, logged_in, org, smtp_server, tmp_path):
    """The worker ``guichet worker`` runs: Huey's consumer with two threads."""
    subscribe(logged_in)
    import_file(app, tmp_path, invoice("1"), invoice("2"))
    consumer = jobs.queue(app).create_consumer(workers=2, worker_type="thread", periodic=False)
    thread = threading.Thread(target=consumer.run, daemon=True)
    consumer._set_signal_handlers = lambda: None  # signals belong to the main thread
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        consumer.stop(graceful=True)
        thread.join(10)
    assert sorted(m["Subject"].split()[1] for m in smtp_server.messages) == ["1", "2"]


REDIS_URL = os.environ.get("GUICHET_TEST_REDIS_URL")


@pytest.mark.parametrize("storage", ["sqlite", "redis"] if REDIS_URL else ["sqlite"])
def test_the_queue_works_on_each_storage(tmp_path, org, smtp_server, storage):
    """SQLite in the instance folder by default; Redis when configured (CI sets
    ``GUICHET_TEST_REDIS_URL``)."""
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "JOBS_NAME": "test"}
    if storage == "redis":
        config["REDIS_URL"] = REDIS_URL
    other = make_app(tmp_path, **config)
    huey = jobs.queue(other)
    huey.flush()
    assert type(huey.storage).__name__ == ("RedisQueue" if storage == "redis" else "SqliteQueue")
    if storage == "sqlite":  # as durable as the portal's database: NORMAL, not FULL
        assert huey.storage.conn.execute("PRAGMA synchronous").fetchone() == (1,)
    with other.app_context():
        db.session.add(Subscription(organisation_id=org.id, email="q@client1.example.com"))
        db.session.commit()
    import_file(other, tmp_path, invoice())
    assert jobs.pending(other) == 3  # the fan-out, the PDF made ahead, the e-invoice check
    assert jobs.drain(other) == 4
    assert [m["To"] for m in smtp_server.messages] == ["q@client1.example.com"]
    huey.flush()
    if storage == "redis":
        tasks_of_an_earlier_release_still_run(tmp_path, config)


def tasks_of_an_earlier_release_still_run(tmp_path, config):
    """The queue on Redis takes priorities since PDFs are made ahead (a sorted set, not
    the list Huey's plain storage used): what an earlier release left queued moves in
    when the app starts, and runs."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    plain = "huey.redis.test"
    huey = jobs.queue(make_app(tmp_path, **config))
    task = huey.wrappers["plugins.invoices.documents.render_pdfs"].s([])
    connection.lpush(plain, huey.serialize_task(task))  # as the earlier release left it
    upgraded = make_app(tmp_path, **config)
    assert connection.type(plain) == b"none"
    assert jobs.pending(upgraded) == 1
    assert jobs.drain(upgraded) == 1


def test_in_immediate_mode_tasks_run_in_the_caller(tmp_path, org, smtp_server):
    """``JOBS_IMMEDIATE``: no worker; the e-mail is sent when the import ends."""
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "JOBS_IMMEDIATE": True}
    other = make_app(tmp_path, **config)
    with other.app_context():
        db.session.add(Subscription(organisation_id=org.id, email="now@client1.example.com"))
        db.session.commit()
    import_file(other, tmp_path, invoice())
    assert [m["To"] for m in smtp_server.messages] == ["now@client1.example.com"]
    assert jobs.pending(other) == 0


def test_a_local_mail_backend_receives_the_emails(tmp_path, org, smtp_server):
    """The README's run command has no SMTP server: the worker prints e-mails with the
    ``console`` backend. Local backends count as configured (here ``locmem``)."""
    other = make_app(tmp_path, MAIL_SERVER="", MAIL_BACKEND="locmem", JOBS_NAME="local")
    with other.app_context():
        db.session.add(Subscription(organisation_id=org.id, email="q@client1.example.com"))
        db.session.commit()
    import_file(other, tmp_path, invoice())
    jobs.drain(other)
    [message] = other.extensions["mailman"].outbox
    assert message.to == ["q@client1.example.com"] and smtp_server.messages == []


def test_the_worker_command_drains_the_queue(app, logged_in, org, smtp_server, tmp_path):
    subscribe(logged_in)
    import_file(app, tmp_path, invoice())
    result = run_cli(app, "worker", "--drain")
    assert result.exit_code == 0 and result.output == "4 task(s) run\n"  # with the e-invoice check
    assert len(smtp_server.messages) == 1


def test_notification_pages_query_count_does_not_grow_with_data(
    logged_in, org, user, count_queries
):
    def queries(path):
        with count_queries() as counter:
            assert logged_in.get(path).status_code == 200
        return len(counter)

    def add(count, start):
        for n in range(start, start + count):
            owner = user.id if n % 2 else None  # personal and organisation addresses
            db.session.add(
                Subscription(
                    organisation_id=org.id, email=f"a{n}@client1.example.com", user_id=owner
                )
            )
            db.session.add(
                Delivery(
                    organisation_id=org.id,
                    key=f"k{n}",
                    email=f"a{n}@client1.example.com",
                    invoice_ids=[n],
                    summary=str(n),
                    status="sent",
                )
            )
        db.session.commit()

    add(2, 0)
    queries("/factures/notifications/")  # the process reads the enabled apps once
    few = [queries(p) for p in ("/factures/notifications/", "/factures/notifications/journal")]
    add(40, 2)
    many = [queries(p) for p in ("/factures/notifications/", "/factures/notifications/journal")]
    assert many == few
    assert max(many) <= 9


def test_sending_to_typed_addresses_is_rate_limited(app, logged_in, org, tmp_path):
    import_file(app, tmp_path, invoice())
    from plugins.invoices.models import Invoice

    data = {"id": [db.session.scalar(select(Invoice.id))], "email": "boss@example.org"}
    answers = [
        logged_in.post("/factures/notifications/envoyer", data=data).status_code for _ in range(31)
    ]
    assert answers == [302] * 30 + [429]
    assert len(deliveries()) == 30


E_INVOICE = {  # what a Factur-X needs beyond the defaults: lines and the buyer's SIREN
    "lines": [
        {
            "label": "Affranchissements du mois",
            "quantity": "1",
            "unit_price_ht": "56267.25",
            "vat_rate": "20",
            "amount_ht": "56267.25",
        },
    ],
    "recipient": {"name": "CLIENT 1", "siret": "35600000000048", "address": "75015 PARIS"},
}


def attached(smtp_server) -> dict[str, bytes]:
    (message,) = smtp_server.messages
    return {a.get_filename(): a.get_content() for a in message.iter_attachments()}


@pytest.mark.parametrize(
    ("choice", "names"),
    [
        ("facturx", ["facture-62274737-facturx.pdf"]),
        ("both", ["facture-62274737.pdf", "facture-62274737-facturx.pdf"]),
    ],
)
def test_an_address_receives_the_factur_x_it_chose(
    app, logged_in, smtp_server, tmp_path, choice, names
):
    assert subscribe(logged_in, attachment_format=choice).status_code == 302
    import_file(app, tmp_path, invoice(**E_INVOICE))
    jobs.drain(app)
    files = attached(smtp_server)
    assert list(files) == names
    name, xml = get_facturx_xml_from_pdf(files["facture-62274737-facturx.pdf"], check_xsd=False)
    assert name == "factur-x.xml" and b"<ram:GrandTotalAmount>67520.70<" in xml
    assert failed_rules(xml, "factur-x") == []


def test_an_invoice_that_cannot_be_a_factur_x_is_sent_as_its_pdf(
    app, logged_in, smtp_server, tmp_path
):
    assert subscribe(logged_in, attachment_format="facturx").status_code == 302
    import_file(app, tmp_path, invoice())  # no lines, no SIREN for the customer
    jobs.drain(app)
    assert list(attached(smtp_server)) == ["facture-62274737.pdf"]
    assert [d.status for d in deliveries()] == ["sent"]


def test_without_the_e_invoices_app_only_the_pdf_is_offered_and_sent(
    app, logged_in, org, smtp_server, tmp_path
):
    assert subscribe(logged_in, attachment_format="facturx").status_code == 302
    set_app_enabled(org, "einvoicing", False)
    db.session.commit()
    page = logged_in.get("/factures/notifications/").get_data(as_text=True)
    assert 'value="facturx"' not in page and 'value="both"' not in page
    refused = subscribe(logged_in, "other@client1.example.com", attachment_format="facturx")
    assert refused.status_code == 422  # not a choice any more
    import_file(app, tmp_path, invoice(**E_INVOICE))
    jobs.drain(app)
    assert list(attached(smtp_server)) == ["facture-62274737.pdf"]
