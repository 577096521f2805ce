#!/usr/bin/env bash
# Installs what lce-nas needs (scripts/setup.sh) and runs the main job: a
# search of the quicknet space on this machine's CPU, with the embedded
# defaults (SQLite lce-nas.db here, a local Ray, the bundled Fashion-MNIST).
# Extra arguments go to `lce-nas search`, e.g. `scripts/search.sh --trials 20`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/lce-nas search --space quicknet --device host "$@"
