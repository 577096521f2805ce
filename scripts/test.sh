#!/usr/bin/env bash
# Installs everything the tests need (including PostgreSQL, OpenSSH and
# Chromium, which the test fixtures start on loopback) and runs the suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
# The native engine under AddressSanitizer + UndefinedBehaviorSanitizer: its
# fast tests and the fuzz corpus plus mutants (LCE_NAS_SANITIZE=0 skips). The
# mutants' seed is fixed so that a run's verdict is the code's, not the draw's;
# `scripts/sanitize.sh N` without LCE_NAS_FUZZ_SEED explores fresh ones.
if [[ "${LCE_NAS_SANITIZE:-1}" != "0" ]]; then
  LCE_NAS_FUZZ_SEED=${LCE_NAS_FUZZ_SEED:-1} scripts/sanitize.sh 500
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when nothing was collected: that is a failure, not a pass.
if [[ $rc -eq 5 ]]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit $rc
