"""Plugin SDK figures: the time from ``guichet plugin new`` to a passing test of the new
plugin, and the portal's start-up time with 1 and with 50 installed plugins (beside
the built-in ones), each a package scaffolded and installed with pip.

    .venv/bin/python -m bench.plugins [--runs 5]

Start-up is measured in a fresh interpreter each time, as a server starts: importing
Guichet, building the app (entry points, plugin manager, registry, blueprints, job
queue) and answering its first request. The plugins go into a folder of their own on
``PYTHONPATH``, so nothing is left in the virtualenv.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
STARTUP = """
import time
started = time.perf_counter()
from core import create_app
app = create_app({"LOG_LEVEL": "WARNING"})
built = time.perf_counter()
app.test_client().get("/login")
answered = time.perf_counter()
from core.appsystem import registry
loaded = [name for name, plugin in registry(app).pm.list_name_plugin() if plugin]
print(len(loaded), len(registry(app).apps), built - started, answered - started)
"""


def run(command: list, cwd: Path | None = None, env: dict | None = None) -> float:
    """Run ``command`` (it must succeed); returns its duration in seconds."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def environment(folder: Path, site: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.pop("DATABASE_URL", None)
    env.update(
        GUICHET_INSTANCE_PATH=str(folder / "instance"),
        DATABASE_URL=f"sqlite:///{folder}/bench.db",
        # the example apps, installed for the tests, are not among the counted
        GUICHET_BLOCKED_PLUGINS='["tickets", "latest_invoices"]',
    )
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def new_to_green(folder: Path) -> dict[str, float]:
    """Scaffold, install and test one new plugin; seconds per step."""
    site = folder / "site"
    steps = {"plugin new": run([BIN / "guichet", "plugin", "new", "hello", "--directory", folder])}
    package = folder / "guichet-hello"
    steps["pip install"] = run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, "."],
        cwd=package,
    )
    env = {k: v for k, v in os.environ.items() if k != "GUICHET_TEST_DATABASE_URL"}
    tests = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    steps["pytest (6 tests)"] = run(tests, cwd=package, env={**env, "PYTHONPATH": str(site)})
    steps["total"] = sum(steps.values())
    return steps


def install_plugins(folder: Path, count: int) -> Path:
    """``count`` scaffolded plugins installed into ``folder/site``; returns it."""
    site = folder / "site"
    packages = []
    for n in range(count):
        run([BIN / "guichet", "plugin", "new", f"bench{n:02d}", "--directory", folder])
        packages.append(folder / f"guichet-bench{n:02d}")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            site,
            *packages,
        ]
    )
    return site


def startup(folder: Path, site: Path, runs: int) -> dict[str, float]:
    env = environment(folder, site)
    run([BIN / "guichet", "db", "upgrade"], env=env)
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True, check=True
        )
        plugins, apps, built, answered = done.stdout.split()
        samples.append((float(built), float(answered)))
    return {
        "plugins loaded": int(plugins),
        "apps": int(apps),
        "app built (median)": statistics.median(s[0] for s in samples),
        "first request answered (median)": statistics.median(s[1] for s in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print("From `guichet plugin new` to a passing test (seconds):")
    for attempt in range(args.runs if args.runs < 3 else 3):
        with tempfile.TemporaryDirectory(prefix="guichet-bench-") as folder:
            steps = new_to_green(Path(folder))
        print(f"  run {attempt + 1}: " + "  ".join(f"{k} {v:5.2f}" for k, v in steps.items()))

    print(f"Start-up of the portal, fresh interpreter, median of {args.runs} (seconds):")
    for count in (1, 50):
        with tempfile.TemporaryDirectory(prefix="guichet-bench-") as folder:
            site = install_plugins(Path(folder), count)
            figures = startup(Path(folder), site, args.runs)
        print(
            f"  {count:2d} installed plugin(s) besides the built-in ones: "
            f"{figures['plugins loaded']} plugins loaded, {figures['apps']} apps, "
            f"app built {figures['app built (median)']:.3f} s, first request answered "
            f"{figures['first request answered (median)']:.3f} s"
        )


if __name__ == "__main__":
    main()
