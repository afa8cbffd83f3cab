#!/usr/bin/env bash
# Starts the portal once it is set up (scripts/setup.sh), as `make run` does: the
# migrations, the demo data and its logins, the local Mollie server when no Mollie key
# is configured, the local e-invoicing platform when none is, the background worker and
# the web server. The browser journeys start
# the portal with this script too (tests/e2e/conftest.py), so they test what runs.
# PORT (5000) chooses the web server's port, MOLLIE_PORT (PORT + 1) the Mollie server's,
# PLATFORM_PORT (PORT + 2) the e-invoicing platform's, HOST (127.0.0.1) the address the
# web server listens on (0.0.0.0 in a container).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
guichet db upgrade
port="${PORT:-5000}"
# Without an SMTP server configured, e-mails are printed here by the worker.
[[ -z "${GUICHET_MAIL_SERVER:-}" ]] && export GUICHET_MAIL_BACKEND="${GUICHET_MAIL_BACKEND:-console}"
export GUICHET_PUBLIC_URL="${GUICHET_PUBLIC_URL:-http://localhost:${port}}"
# The demo's operator logs in with its password alone (elsewhere operators need a second factor).
export GUICHET_OPERATORS_REQUIRE_2FA="${GUICHET_OPERATORS_REQUIRE_2FA:-false}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# Without an approved platform, new e-invoices (the demo's too) go to a local stand-in.
if [[ -z "${GUICHET_EINVOICING_PLATFORM:-}" ]]; then
  platform_port="${PLATFORM_PORT:-$((port + 2))}"
  guichet einvoicing platform --port "$platform_port" &
  pids+=($!)
  export GUICHET_EINVOICING_PLATFORM=http
  export GUICHET_EINVOICING_PLATFORM_URL="http://127.0.0.1:${platform_port}"
  export GUICHET_EINVOICING_PLATFORM_KEY=test_localdemo
fi
guichet demo
# Without a Mollie key, payments go to a local server speaking Mollie's API (test mode).
if [[ -z "${GUICHET_MOLLIE_API_KEY:-}" ]]; then
  mollie_port="${MOLLIE_PORT:-$((port + 1))}"
  guichet mollie serve --port "$mollie_port" &
  pids+=($!)
  export GUICHET_MOLLIE_API_KEY=test_localdemo00000000000000
  export GUICHET_MOLLIE_API_ENDPOINT="http://127.0.0.1:${mollie_port}"
fi
guichet worker &
pids+=($!)
echo
echo "Guichet is starting on http://localhost:${port}/ (or http://127.0.0.1:${port}/; Ctrl-C to stop)"
echo "Background jobs (e-mails, letters, payment checks) run in the worker beside it."
[[ -n "${mollie_port:-}" ]] && echo "Payments: test mode, through the local Mollie server on port ${mollie_port}."
[[ -n "${platform_port:-}" ]] && echo "E-invoices: sent to the local stand-in platform on port ${platform_port}."
# gunicorn, as in production (the Dockerfile's command); one process, so /metrics needs
# no shared folder, and threads for the pages and widgets a browser asks at once.
gunicorn --workers 1 --worker-class gthread --threads 8 --access-logfile - \
  --bind "${HOST:-127.0.0.1}:${port}" wsgi:app
