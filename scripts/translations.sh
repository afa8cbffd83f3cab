#!/usr/bin/env bash
# Compiles the message catalogs (.po -> .mo) of the core, the built-in apps and the
# examples: run by scripts/setup.sh and by the container image's build.
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel="${PYBABEL:-.venv/bin/pybabel}"
"$pybabel" compile --use-fuzzy -d core/translations -f >/dev/null
for catalog in plugins/*/translations examples/*/*/translations; do
  [[ -d "$catalog" ]] && "$pybabel" compile -d "$catalog" -f >/dev/null
done
true
