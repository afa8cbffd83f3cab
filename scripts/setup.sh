#!/usr/bin/env bash
# Installs everything Guichet needs into this clone: a virtualenv in .venv, the
# front-end assets from package-lock.json, and the compiled translation catalogs.
# Usage: scripts/setup.sh [--test]   (--test also installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--test" ]] && extras="[dev]"

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras}"
npm ci --no-audit --no-fund --loglevel=error
scripts/translations.sh
if [[ -n "$extras" ]]; then
  # The example third-party apps (examples/), installed like any plugin package: the
  # suite walks their routes and the browser journeys use them.
  .venv/bin/python -m pip install --quiet --no-deps -e examples/tickets -e examples/latest_invoices
fi
echo "setup: done"
