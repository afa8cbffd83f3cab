"""``guichet plugin new``: the package it writes installs, lints clean and passes its
own tests with the fixtures Guichet ships."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli

BIN = Path(sys.executable).parent


def test_a_new_plugin_installs_and_its_own_tests_pass(app, tmp_path):
    result = run_cli(app, "plugin", "new", "hello", "--directory", str(tmp_path))
    assert result.exit_code == 0, result.output
    package = tmp_path / "guichet-hello"
    assert f"wrote {package}" in result.output
    assert (package / "guichet_hello" / "templates" / "hello" / "index.html").is_file()
    lint = subprocess.run(
        [BIN / "ruff", "check", "--no-cache", "."], cwd=package, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    site = tmp_path / "site"  # installed as pip installs any package, out of the way
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, "."],
        cwd=package,
        check=True,
        capture_output=True,
    )
    assert list(site.glob("guichet_hello-0.1.0.dist-info/entry_points.txt"))
    env = {k: v for k, v in os.environ.items() if k != "GUICHET_TEST_DATABASE_URL"}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env={**env, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout


def test_a_bad_name_or_a_taken_folder_writes_nothing(app, tmp_path):
    refused = run_cli(app, "plugin", "new", "Hello World", "--directory", str(tmp_path))
    assert refused.exit_code == 1
    assert "'Hello World' is not a usable name" in refused.output
    assert run_cli(app, "plugin", "new", "core", "--directory", str(tmp_path)).exit_code == 1
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "guichet-notes").mkdir()
    taken = run_cli(app, "plugin", "new", "notes", "--directory", str(tmp_path))
    assert taken.exit_code == 1 and "exists already; nothing was written" in taken.output
    assert list((tmp_path / "guichet-notes").iterdir()) == []


def test_a_new_plugins_model_change_gets_its_migration_in_its_own_history(app, tmp_path):
    """What the plugin guide shows: ``guichet db migrate -x plugin=NAME`` writes the
    revision of a changed model into the plugin's own folder; ``guichet db upgrade``
    runs it."""
    assert run_cli(app, "plugin", "new", "hello", "--directory", str(tmp_path)).exit_code == 0
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, "."],
        cwd=tmp_path / "guichet-hello",
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(PYTHONPATH=str(site), GUICHET_INSTANCE_PATH=str(tmp_path / "instance"))

    def guichet(*args: str) -> str:
        done = subprocess.run([BIN / "guichet", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    assert "database: up to date" in guichet("db", "upgrade")
    models = site / "guichet_hello" / "models.py"
    models.write_text(
        models.read_text().replace(
            "    text: Mapped[str] = mapped_column(String(500))\n",
            "    text: Mapped[str] = mapped_column(String(500))\n"
            '    colour: Mapped[str] = mapped_column(String(20), default="")\n',
        )
    )
    assert "Detected added column 'hello_notes.colour'" in guichet(
        "db", "migrate", "-x", "plugin=hello", "-m", "colour"
    )
    (revision,) = (site / "guichet_hello" / "migrations").glob("*_colour.py")
    assert "add_column(sa.Column('colour'" in revision.read_text()
    assert "Running upgrade 0001_hello" in guichet("db", "upgrade")
