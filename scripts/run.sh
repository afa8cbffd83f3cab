#!/usr/bin/env bash
# One command for a newcomer: install, migrate, load the demo and start the portal
# on the embedded default (SQLite in instance/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec scripts/serve.sh
