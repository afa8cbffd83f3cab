"""What one payment webhook costs the portal, in measures that do not depend on how busy
the machine is: statements per first delivery and, under valgrind, instructions per
first delivery. The webhooks go through the test client in this process, one at a
time; the local Mollie server runs in its own process, as in ``bench.payments``.
Compare two versions of the code with these figures, not with webhooks per second,
which vary by a third from one minute to the next on a shared machine.

    .venv/bin/python -m bench.webhook_cost [--database-url URL] [--instructions]

``--instructions`` runs the measured part under ``valgrind --tool=callgrind`` (it
needs valgrind, its headers and a C compiler; about two minutes).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import event

from bench.common import bench_app
from bench.payments import KEY, paid_payments, start_mollie

# Callgrind's client requests, to count the measured webhooks only.
TOGGLE = """#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


def measure(database_url: str | None, warm: int, runs: int, toggle: str | None) -> None:
    folder = tempfile.mkdtemp(prefix="guichet-bench-")
    mollie, mollie_url, api = start_mollie()
    try:
        app = bench_app(folder, database_url, MOLLIE_API_KEY=KEY, MOLLIE_API_ENDPOINT=mollie_url)
        ids = paid_payments(app, api, mollie_url, warm + runs, organisations=50)
        from core.extensions import db

        with app.app_context():
            engine = db.engine
        statements = []
        event.listen(engine, "before_cursor_execute", lambda *_: statements.append(1))
        client = app.test_client()
        for provider_id in ids[:warm]:
            assert client.post("/paiements/webhook", data={"id": provider_id}).status_code == 200
        statements.clear()
        cpu = os.times()
        if toggle:
            ctypes.CDLL(toggle).start()
        for provider_id in ids[warm:]:
            assert client.post("/paiements/webhook", data={"id": provider_id}).status_code == 200
        if toggle:
            ctypes.CDLL(toggle).stop()
        cpu = [
            (now - then) / runs * 1000 for now, then in zip(os.times()[:2], cpu[:2], strict=True)
        ]
    finally:
        mollie.terminate()
    print(f"database: {engine.dialect.name}; {runs} first deliveries after {warm} to warm up")
    print(f"{'statements per first delivery':<46} {len(statements) / runs:8.1f}")
    print(
        f"{'CPU per first delivery (varies with the machine)':<46} {sum(cpu):8.2f} ms"
        f"  ({cpu[0]:.2f} user, {cpu[1]:.2f} system)"
    )


def under_callgrind(argv: list[str], runs: int) -> None:
    """Run this script again under callgrind, counting the measured webhooks only."""
    folder = Path(tempfile.mkdtemp(prefix="guichet-callgrind-"))
    (folder / "toggle.c").write_text(TOGGLE)
    library = folder / "toggle.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", "-o", library, folder / "toggle.c"], check=True
    )
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--callgrind-out-file={folder}/out.%p",
        sys.executable,
        "-m",
        "bench.webhook_cost",
        *argv,
        "--toggle",
        str(library),
    ]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    for dump in folder.glob("out.*"):
        text = dump.read_text(errors="replace")
        if "measured" in text:
            total = next(
                line for line in text.splitlines() if line.startswith(("summary:", "totals:"))
            )
            per = int(total.split()[1]) / runs
            print(f"{'instructions per first delivery':<46} {per / 1e6:8.2f} M")
            return
    raise SystemExit("callgrind wrote no measured part")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--warm", type=int, default=60, help="the first 50 open the wallets")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--toggle", help=argparse.SUPPRESS)  # set by --instructions
    args = parser.parse_args()
    if args.instructions:
        argv = [a for a in sys.argv[1:] if a != "--instructions"]
        under_callgrind(argv, args.runs)
        return
    measure(args.database_url, args.warm, args.runs, args.toggle)


if __name__ == "__main__":
    os.environ.setdefault("GUICHET_LOG_LEVEL", "WARNING")
    main()
