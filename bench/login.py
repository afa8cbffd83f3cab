"""A login with a second factor, as a person makes it: the password (argon2), then the
code of the authenticator app; each a request through the test client, in a fresh
context. Target: p95 ≤ 200 ms for the two together.

    .venv/bin/python -m bench.login [--runs 100] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pyotp

from bench.common import bench_app, percentiles, report
from core.extensions import db

EMAIL, PASSWORD = "bench@example.com", "correct horse battery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app = bench_app(tempfile.mkdtemp(), args.database_url)
    with app.app_context():
        from core import directory, sealing
        from core.models import User, UserTotp

        org = directory.create_organisation(name="Bench")
        user = directory.create_user(EMAIL, password=PASSWORD)
        directory.set_membership(user, org, "admin")
        secret = pyotp.random_base32()
        db.session.add(UserTotp(user_id=user.id, secret=sealing.seal(secret), last_step=0))
        db.session.get(User, user.id).two_factor = True
        db.session.commit()
        user_id = user.id
    totp = pyotp.TOTP(secret)
    both, password_step, code_step = [], [], []
    for n in range(args.runs + 5):
        with app.app_context():  # a code is accepted once: each login its own step
            db.session.query(UserTotp).filter_by(user_id=user_id).update({"last_step": 0})
            db.session.commit()
        client = app.test_client()
        started = time.perf_counter()
        first = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
        middle = time.perf_counter()
        second = client.post("/login/code", data={"code": totp.now()})
        ended = time.perf_counter()
        assert first.status_code == 302 and second.status_code == 302, (first, second)
        if n >= 5:  # the first ones warm up
            password_step.append((middle - started) * 1000)
            code_step.append((ended - middle) * 1000)
            both.append((ended - started) * 1000)
    print(f"{args.runs} logins with a second factor")
    report("password (argon2)", percentiles(password_step))
    report("code of the app", percentiles(code_step))
    report("login, both steps", percentiles(both), "p95 ≤ 200 ms")


if __name__ == "__main__":
    main()
