#!/usr/bin/env bash
# One command for a newcomer: install, migrate, load the demo and start the portal
# on the embedded default (SQLite in instance/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
guichet db upgrade
guichet demo
port="${PORT:-5000}"
# Without an SMTP server configured, e-mails are printed here by the worker.
[[ -z "${GUICHET_MAIL_SERVER:-}" ]] && export GUICHET_MAIL_BACKEND="${GUICHET_MAIL_BACKEND:-console}"
guichet worker &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT
echo
echo "Guichet is starting on http://localhost:${port}/  (Ctrl-C to stop)"
echo "Background jobs (e-mails) run in the worker beside it (pid ${worker})."
guichet run --host 127.0.0.1 --port "$port"
