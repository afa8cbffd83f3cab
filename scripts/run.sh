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
echo
echo "Guichet is starting on http://localhost:${port}/  (Ctrl-C to stop)"
exec guichet run --host 127.0.0.1 --port "$port"
