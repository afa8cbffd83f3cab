"""Beyond one machine (issue 23): two gunicorn servers and two workers, each with an
instance folder of its own, on the same database, Redis and S3-compatible store (the
local S3 server), as the README's production reference runs them. A document imported
through server A is downloaded from server B; the PDFs a worker renders are served by
both; 200 paid top-up webhooks spread over both servers, each payment's twice at once,
credit each wallet exactly once."""

from __future__ import annotations

import itertools
import json
import re
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from sqlalchemy import func, select

from core import api, ledger
from core.documents import encode_pdf
from core.extensions import db
from core.ledger import WalletEntry
from core.testing import ISSUER, PASSWORD, make_org
from plugins.invoices.models import Invoice
from plugins.payments.models import Payment
from tests.conftest import MOLLIE_KEY, invoice_item, one_page_pdf
from tests.servers import free_port, s3_server, s3_settings, spawn, wait_until_answering

QUEUE_REDIS = "redis://127.0.0.1:6379/11"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
AMOUNT = 2500


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture
def installation(tmp_path, s3, mollie):
    """Servers A and B (gunicorn -w 2) and two workers (one runs the schedule), each in
    its own instance folder; yields the servers' URLs. Every process is stopped after."""
    bucket = f"guichet-multi-{next(BUCKETS)}"
    s3.client().create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    redis.Redis.from_url(QUEUE_REDIS).flushdb()
    settings = {
        **s3_settings(s3, bucket),
        "REDIS_URL": QUEUE_REDIS,
        "JOBS_NAME": "multi",
        "MOLLIE_API_KEY": MOLLIE_KEY,
        "MOLLIE_API_ENDPOINT": mollie.url,
    }
    env = {f"GUICHET_{key}": str(value) for key, value in settings.items()}
    env["GUICHET_ISSUER"] = json.dumps(ISSUER)
    processes, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            command = ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
            processes.append(spawn(command, tmp_path / name, **env))
            urls.append(f"http://127.0.0.1:{port}")
        processes.append(spawn(["guichet", "worker"], tmp_path / "w1", **env))
        processes.append(spawn(["guichet", "worker", "--no-periodic"], tmp_path / "w2", **env))
        for url, process in zip(urls, processes, strict=False):
            wait_until_answering(f"{url}/healthz", process)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except Exception:  # noqa: BLE001 - whatever it was doing, it stops now
                process.kill()
        failures = [p.stderr.read() for p in processes]
        tracebacks = [text for text in failures if "Traceback" in text]
        assert not tracebacks, tracebacks[0][-3000:]
        for name in ("a", "b", "w1", "w2"):  # nothing kept on any machine's disk
            assert not (tmp_path / name / "documents").exists(), name


BUCKETS = itertools.count(1)


def logged_in(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    token = CSRF.search(browser.get(f"{base}/login", timeout=10).text).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert (
        browser.post(f"{base}/login", data=data, allow_redirects=False, timeout=10).status_code
        == 302
    )
    return browser


def test_a_document_imported_through_one_server_is_served_by_the_other(installation, customer):
    a, b = installation
    bearer = api.issue_token("billing system")[1]
    db.session.commit()
    pdf = one_page_pdf("Facture 70000001, envoyée par le fournisseur")
    batch = [invoice_item("70000001", pdf=encode_pdf(pdf)), invoice_item("70000002")]
    answer = requests.post(
        f"{a}/api/v1/invoices",
        json=batch,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["created"] == ["70000001", "70000002"]
    ids = dict(db.session.execute(select(Invoice.number, Invoice.id)).all())
    browser = logged_in(b, customer.email)
    provided = browser.get(f"{b}/factures/{ids['70000001']}/pdf", timeout=30)
    assert provided.status_code == 200 and provided.content == pdf
    # the other PDF: rendered by a worker ahead (or by the first download), then the
    # same file from either server
    from_b = browser.get(f"{b}/factures/{ids['70000002']}/pdf", timeout=60)
    from_a = logged_in(a, customer.email).get(f"{a}/factures/{ids['70000002']}/pdf", timeout=60)
    assert from_b.status_code == from_a.status_code == 200
    assert from_a.content == from_b.content and from_a.content.startswith(b"%PDF")


def test_paid_webhooks_spread_over_two_servers_credit_each_wallet_once(installation, mollie, org):
    a, b = installation
    organisations = [org, *(make_org(f"Client {n}", codes=[f"9{n:07d}"]) for n in range(2, 11))]
    payments = []
    for n in range(100):
        owner = organisations[n % len(organisations)]
        payment = Payment(
            organisation_id=owner.id,
            account_id=owner.accounts[0].id,
            key=f"multi-{n}",
            provider="mollie",
            provider_id=f"pending-{n}",
            purpose="topup",
            amount=AMOUNT,
            currency="EUR",
            description=f"Top-up {n}",
            status="open",
            refunded=0,
            problem="",
        )
        db.session.add(payment)
        db.session.flush()
        remote = requests.post(
            f"{mollie.url}/v2/payments",
            headers={"Authorization": f"Bearer {MOLLIE_KEY}"},
            json={
                "amount": {"currency": "EUR", "value": f"{AMOUNT / 100:.2f}"},
                "description": f"Top-up {n}",
                "redirectUrl": "http://guichet.test/retour",
                "metadata": {"payment_id": payment.id, "organisation_id": owner.id},
            },
            timeout=10,
        ).json()
        mollie.end(remote["id"], "paid")
        payment.provider_id = remote["id"]
        payments.append(payment)
    db.session.commit()
    calls = [(server, p.provider_id) for p in payments for server in (a, b)]  # 200

    def deliver(call):
        server, provider_id = call
        return requests.post(
            f"{server}/paiements/webhook", data={"id": provider_id}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(deliver, calls))
    assert answers == [200] * 200
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(WalletEntry)) == 100
    for owner in organisations:
        assert ledger.balance(owner.id) == 10 * AMOUNT, owner.name
        assert ledger.check(owner.id) == (10 * AMOUNT, 10 * AMOUNT)
    paid = db.session.scalar(select(func.count()).where(Payment.status == "paid"))
    assert paid == 100
    receipts = db.session.scalar(select(func.count()).select_from(Invoice))
    assert receipts == 100  # one receipt per top-up
