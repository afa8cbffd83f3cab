#!/usr/bin/env bash
# One command for the whole suite: install everything, lint, run the tests.
# GUICHET_TEST_DATABASE_URL=postgresql://... runs the same suite on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# The browser journeys drive Debian's chromium (test tools cannot download browsers).
if ! command -v chromium >/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
# The plugin boundary: apps import core.plugin_api only, the core no app (pyproject.toml).
lint-imports
# The plugin guide: a warning (a broken reference, a missing page) fails the build.
sphinx-build -W --keep-going -q -b html docs docs/_build/html
pytest "$@"
# The example third-party apps in a fresh environment beside Guichet, each installed
# from its own pyproject.toml, run their own tests with the fixtures Guichet ships.
python3 -m venv --clear .venv-example
.venv-example/bin/python -m pip install --quiet -e . "./examples/tickets[test]" \
  "./examples/latest_invoices[test]"
for example in tickets latest_invoices; do
  (cd "examples/$example" && ../../.venv-example/bin/pytest -p no:cacheprovider)
done
