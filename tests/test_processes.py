"""The portal as separate processes, as production runs it (issue 24): throttles under
gunicorn with two workers, and e-mails when the job worker is killed mid-run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select, update

from core import jobs
from core.extensions import db
from core.models import utcnow
from core.testing import PASSWORD, make_app
from plugins.notifications import sending
from plugins.notifications.models import Delivery, Subscription
from tests.conftest import invoice_item, run_cli
from tests.servers import free_port, spawn, wait_until_answering

LIMITS_REDIS = "redis://127.0.0.1:6379/13"
KILLED_REDIS = "redis://127.0.0.1:6379/12"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def gunicorn(instance: Path, port: int, **env: str) -> subprocess.Popen:
    """``gunicorn -w 2 wsgi:app``, as the README runs it."""
    return spawn(["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"], instance, **env)


def test_two_workers_on_memory_limits_refuse_to_start_and_say_why(tmp_path, user):
    server = gunicorn(tmp_path, free_port(), GUICHET_RATELIMIT_STORAGE_URI="memory://")
    try:
        code = server.wait(timeout=90)
    finally:
        server.kill()
    output = server.stderr.read()
    assert code != 0
    assert "another process already serves this instance" in output
    assert "GUICHET_RATELIMIT_STORAGE_URI" in output


@pytest.mark.parametrize("setting", ["GUICHET_REDIS_URL", "GUICHET_RATELIMIT_STORAGE_URI"])
def test_the_login_limit_holds_across_two_workers(tmp_path, user, setting):
    """Five wrong passwords, then refused: each attempt on a new connection, so gunicorn
    hands them to either worker; the count is shared in the job queue's Redis."""
    redis.Redis.from_url(LIMITS_REDIS).flushdb()
    port = free_port()
    server = gunicorn(tmp_path, port, **{setting: LIMITS_REDIS})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/login", server)
        answers = []
        for attempt in range(8):
            browser = requests.Session()  # a new connection and a new session each time
            token = CSRF.search(browser.get(f"{base}/login").text).group(1)
            response = browser.post(
                f"{base}/login",
                allow_redirects=False,
                data={
                    "email": user.email,
                    "password": f"wrong {attempt}",
                    "csrf_token": token,
                },
            )
            answers.append(response.status_code)
        assert answers == [401] * 5 + [429] * 3
        browser = requests.Session()
        token = CSRF.search(browser.get(f"{base}/login").text).group(1)
        data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
        right = browser.post(f"{base}/login", allow_redirects=False, data=data)
        assert right.status_code == 429  # the account waits, even with the right password
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait(condition, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.1)


def statuses() -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    return dict(rows.all())


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_a_worker_killed_mid_run_loses_no_email_and_sends_none_twice(
    tmp_path, org, smtp_server, queue
):
    """50 invoices to 3 addresses, one refused for good by the server; the worker is
    killed (SIGKILL) while it sends, then started again after the sweeper's pass. On
    Redis as on SQLite: a task the killed worker had taken is gone from either queue."""
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port), "JOBS_NAME": "killed"}
    if queue == "redis":
        redis.Redis.from_url(KILLED_REDIS).flushdb()
        # the throttles stay in memory: this process's limiter is shared with the suite
        config.update(REDIS_URL=KILLED_REDIS, RATELIMIT_STORAGE_URI="memory://")
    portal = make_app(tmp_path, **config)
    jobs.queue(portal).flush()
    addresses = ["a@client1.example.com", "b@client1.example.com", "gone@client1.example.com"]
    with portal.app_context():
        db.session.add_all(
            Subscription(organisation_id=org.id, email=email, attachments=False)
            for email in addresses
        )
        db.session.commit()
    smtp_server.unknown = {"gone@client1.example.com"}
    smtp_server.delay = 0.05  # long enough to be killed in the middle
    items = [invoice_item(f"K{n:03d}", total_ht="1.00", total_ttc="1.20") for n in range(50)]
    (tmp_path / "invoices.json").write_text(json.dumps({"invoices": items}))
    assert run_cli(portal, "invoices", "import", str(tmp_path / "invoices.json")).exit_code == 0

    env = {f"GUICHET_{key}": value for key, value in config.items()}
    worker = spawn(["guichet", "worker"], tmp_path, **env)
    try:
        wait(lambda: len(smtp_server.messages) >= 20, "20 e-mails received")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed = statuses()
        assert killed.get("queued", 0) > 0  # not tried yet: never claimed
        assert killed.get("sending", 0) <= 2  # at most one per consumer thread
        # the sweeper's pass, once its delay is over (15 minutes, here gone)
        past = utcnow() - sending.STALE - timedelta(minutes=1)
        db.session.execute(update(Delivery).values(created_at=past, updated_at=past))
        db.session.commit()
        with portal.app_context():
            sending.sweep()
        worker = spawn(["guichet", "worker"], tmp_path, **env)
        unfinished = ("queued", "sending", "retrying")
        wait(lambda: not set(statuses()) & set(unfinished), "every delivery ended")
    finally:
        worker.kill()
        worker.wait(timeout=30)
    rows = db.session.execute(select(Delivery.email, Delivery.status, Delivery.message_id)).all()
    received = [m["Message-ID"] for m in smtp_server.messages]
    assert len(received) == len(set(received))  # none twice
    sent = {r.message_id for r in rows if r.status == "sent"}
    uncertain = [r for r in rows if r.status == "uncertain"]
    assert sent <= set(received)  # every e-mail recorded as sent arrived
    assert len(set(received) - sent) <= len(uncertain) <= 2  # the log knows every other one
    good = [r for r in rows if r.email != "gone@client1.example.com"]
    assert len(good) == 100 and all(r.status in ("sent", "uncertain") for r in good)
    gone = [r.status for r in rows if r.email == "gone@client1.example.com"]
    assert gone == ["failed"] * 50
    assert sorted(m["To"] for m in smtp_server.messages).count("b@client1.example.com") >= 49
