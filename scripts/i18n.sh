#!/usr/bin/env bash
# Refresh the message catalogs after changing translatable text:
# extracts the strings of the core and of each built-in plugin, and updates the .po files.
set -euo pipefail
cd "$(dirname "$0")/.."
keywords=(-k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output)
.venv/bin/pybabel extract -F babel.cfg "${keywords[@]}" -o core/translations/messages.pot .
.venv/bin/pybabel update -i core/translations/messages.pot -d core/translations --no-fuzzy-matching
for plugin in plugins/*/; do
  [[ -f "$plugin/babel.cfg" ]] || continue
  (cd "$plugin" && ../../.venv/bin/pybabel extract -F babel.cfg "${keywords[@]}" -o translations/messages.pot .)
  .venv/bin/pybabel update -i "$plugin/translations/messages.pot" -d "$plugin/translations" --no-fuzzy-matching
done
