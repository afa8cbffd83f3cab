"""E-invoices sent through an approved platform and their statuses read back
(plugins.einvoicing.transmission), against the local stand-in platform over HTTP: each
new invoice deposited once, a platform down tried again, a refusal kept with why,
statuses recorded along the lifecycle and never backwards."""

import logging
from datetime import timedelta

import pytest
from facturx import get_facturx_xml_from_pdf
from sqlalchemy import select

from core import api, jobs
from core.extensions import db
from core.plugin_api import einvoicing_platform, utcnow
from plugins.einvoicing.local_platform import LocalPlatform
from plugins.einvoicing.models import LifecycleStatus, Transmission
from plugins.einvoicing.transmission import STUCK, poll_statuses, resume, transmit
from plugins.einvoicing.validation import failed_rules
from plugins.invoices.models import Invoice
from tests.conftest import invoice_item

LINES = [
    {
        "label": "Lettre",
        "quantity": "1",
        "unit_price_ht": "100",
        "vat_rate": "20",
        "amount_ht": "100",
    }
]


def new_invoice(number: str, **values) -> dict:
    return invoice_item(
        number,
        total_ht="100",
        total_ttc="120",
        lines=LINES,
        recipient={"siret": "35600000000048", "routing_id": "356000000"},
        **values,
    )


@pytest.fixture
def platform(app, monkeypatch):
    """The stand-in platform, and the portal configured to transmit through it."""
    server = LocalPlatform().start()
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM", "http")
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM_URL", server.url)
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM_KEY", "test_guichet")
    yield server
    server.stop()


@pytest.fixture
def imports(client, org):
    """``imports(*items)``: the invoices imported through the API, as the billing
    system sends them; returns the answer."""
    _token, clear = api.issue_token("billing system")
    db.session.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    return lambda *items: client.post("/api/v1/invoices", json=list(items), headers=headers)


def transmission(number: str) -> Transmission | None:
    db.session.expire_all()
    return db.session.scalar(select(Transmission).where(Transmission.number == number))


def test_hook_guichet_einvoicing_platforms_carry_each_new_invoice_once(platform, imports, run_jobs):
    assert imports(new_invoice("72000001")).json["created"] == ["72000001"]
    run_jobs()
    sent = transmission("72000001")
    assert (sent.state, sent.remote_id, sent.attempts, sent.error) == ("sent", "PA-000001", 1, "")
    deposit = platform.deposits["PA-000001"]
    assert deposit["flavor"] == "factur-x" and deposit["buyer"]["routing_id"] == "356000000"
    name, xml = get_facturx_xml_from_pdf(deposit["content"], check_xsd=False)
    assert name == "factur-x.xml" and failed_rules(xml, "factur-x") == []
    assert b"<ram:ID>72000001</ram:ID>" in xml

    # sent again, changed, or its task run again: still one deposit
    assert imports(new_invoice("72000001", subscriber="AUTRE")).json["updated"] == ["72000001"]
    run_jobs()
    from plugins.einvoicing.transmission import transmit

    transmit(sent.invoice_id)
    run_jobs()
    assert list(platform.deposits) == ["PA-000001"]


def test_invoices_issued_before_e_invoicing_or_without_a_platform_are_not_sent(
    app, platform, imports, run_jobs, monkeypatch
):
    imports(new_invoice("72000002", date="2026-08-31"))
    before = run_jobs()  # the PDF made ahead, the e-invoice check: no transmission queued
    imports(new_invoice("72000004", date="2026-09-01"))
    assert run_jobs() == before + 1  # the same, and its transmission
    assert transmission("72000002") is None and transmission("72000004").state == "sent"
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM", "")
    assert einvoicing_platform() is None
    imports(new_invoice("72000003"))
    run_jobs()
    assert transmission("72000003") is None and list(platform.deposits) == ["PA-000001"]


def test_a_platform_down_is_tried_again_and_then_receives_the_invoice_once(
    platform, imports, run_jobs
):
    platform.unavailable = 2  # two answers 503, then it is back
    imports(new_invoice("72000004"))
    run_jobs()  # the retries are scheduled; draining runs them whatever their time
    sent = transmission("72000004")
    assert (sent.state, sent.attempts) == ("sent", 3)
    assert len(platform.deposits) == 1


def test_a_transmission_a_stopped_worker_took_is_resumed_once(app, platform, imports, run_jobs):
    """The worker holding a transmission was killed (its task is gone with it), once
    before the platform was called and once after it took the deposit but before the
    answer was recorded: after :data:`STUCK` each is queued again, once, and the
    platform holds one deposit of each; one queued a moment ago is left alone."""
    imports(new_invoice("72000011"), new_invoice("72000012"), new_invoice("72000013"))
    for queue in jobs.queues(app):
        queue.flush()  # the worker died holding the three transmissions
    before, after, recent = (transmission(n) for n in ("72000011", "72000012", "72000013"))
    assert {before.state, after.state, recent.state} == {"queued"}
    transmit.function(after.invoice_id)  # deposited; then the worker died before "sent"
    after.state = "queued"
    for sent in (before, after):
        sent.updated_at = utcnow() - STUCK - timedelta(minutes=1)
    db.session.commit()
    assert resume() == 2 and resume() == 0  # their clock restarted
    run_jobs()
    assert [transmission(n).state for n in ("72000011", "72000012", "72000013")] == [
        "sent",
        "sent",
        "queued",
    ]
    assert sorted(d["number"] for d in platform.deposits.values()) == ["72000011", "72000012"]
    names = {t.name for t in jobs.queue(app)._registry.periodic_tasks}
    assert "einvoicing.resume" in names


def test_a_platform_never_reached_ends_failed_with_why(
    app, client, operator, platform, imports, run_jobs, monkeypatch
):
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM_URL", "http://127.0.0.1:9")
    imports(new_invoice("72000005"))
    run_jobs()
    sent = transmission("72000005")
    assert sent.state == "failed" and sent.attempts == 7  # the first try and six more
    assert "cannot be reached" in sent.error

    # the operators see it, and send it again once the platform is back
    client.login(operator.email)
    page = client.get("/operator/e-factures/").get_data(as_text=True)
    assert "72000005" in page and "the platform cannot be reached (ConnectionError)" in page
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM_URL", platform.url)
    url = f"/operator/e-factures/send/{sent.invoice_id}"
    assert client.post(url, data={"csrf_token": client.csrf_token()}).status_code == 303
    run_jobs()
    assert transmission("72000005").state == "sent" and len(platform.deposits) == 1


def test_a_document_the_platform_refuses_is_not_tried_again(
    app, platform, imports, run_jobs, monkeypatch
):
    """The platform rejects the file (here: a wrong token): failed at once, with why."""
    monkeypatch.setitem(app.config, "EINVOICING_PLATFORM_KEY", "live_wrong")
    imports(new_invoice("72000006"))
    run_jobs()
    sent = transmission("72000006")
    assert (sent.state, sent.attempts) == ("failed", 1)
    assert "refused it: a bearer token starting with test_ is required" in sent.error


def test_statuses_come_back_from_the_platform_in_order_and_never_backwards(
    platform, imports, run_jobs, caplog, client, user
):
    imports(new_invoice("72000007"), new_invoice("72000008"))
    run_jobs()
    first, second = transmission("72000007"), transmission("72000008")
    platform.add_status(first.remote_id, "207", "Quantités contestées", "2026-12-01")
    platform.add_status(second.remote_id, "212", "", "2026-12-02")
    platform.add_status(second.remote_id, "200", "", "2026-12-03")  # backwards: ignored
    assert poll_statuses() == 4  # 200 for each, 207, 212
    rows = db.session.scalars(
        select(LifecycleStatus).order_by(LifecycleStatus.invoice_id, LifecycleStatus.id)
    ).all()
    assert [(r.invoice_id, r.code, r.source) for r in rows] == [
        (first.invoice_id, "200", "platform"),
        (first.invoice_id, "207", "platform"),
        (second.invoice_id, "200", "platform"),
        (second.invoice_id, "212", "platform"),
    ]
    assert "cannot follow" in caplog.text
    assert poll_statuses() == 0  # read already: the cursor is kept
    client.login(user.email)
    page = client.get(f"/factures-electroniques/{first.invoice_id}").get_data(as_text=True)
    assert "Quantités contestées" in page and "la plateforme agréée" in page


def test_statuses_of_unknown_invoices_or_codes_are_ignored_with_a_log(
    platform, imports, run_jobs, caplog
):
    imports(new_invoice("72000009"))
    run_jobs()
    sent = transmission("72000009")
    platform.deposits[sent.remote_id]["number"] = "99999999"  # not one of ours
    platform.add_status(sent.remote_id, "999")
    with caplog.at_level(logging.WARNING):
        assert poll_statuses() == 1  # only the 200 of the deposit, under the right number
    assert "platform status 999 of 99999999 ignored: unknown" in caplog.text
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "72000009"))
    codes = db.session.scalars(
        select(LifecycleStatus.code).where(LifecycleStatus.invoice_id == invoice.id)
    ).all()
    assert codes == ["200"]


def test_the_stand_in_takes_concurrent_deposits_once_each(platform, app, imports, run_jobs):
    """Worker threads deposit at once: each key is one deposit, each deposit its own id."""
    import base64
    from concurrent.futures import ThreadPoolExecutor

    import requests

    imports(new_invoice("72000010"))
    run_jobs()
    [first] = platform.deposits.values()
    body = {"number": "72000010", "flavor": "factur-x", "filename": "f.pdf"}
    body["content"] = base64.b64encode(first["content"]).decode()

    def deposit(key: str) -> str:
        headers = {"Authorization": "Bearer test_x", "Idempotency-Key": key}
        return requests.post(platform.url + "/v1/invoices", json=body, headers=headers).json()["id"]

    with ThreadPoolExecutor(8) as pool:
        same = set(pool.map(deposit, ["same"] * 8))
        distinct = list(pool.map(deposit, [f"key-{n}" for n in range(8)]))
    assert len(same) == 1 and len(set(distinct)) == 8
    assert len(platform.deposits) == 1 + 1 + 8
