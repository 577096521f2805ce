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
# One pytest process per test folder unless paths are given: TensorFlow keeps
# what each conversion allocates, and the whole suite in one process outgrows a
# 24 GB machine.
paths=()
for arg in "$@"; do [[ -e "$arg" || "$arg" == tests/* ]] && paths+=("$arg"); done
if (( ${#paths[@]} )); then
  runs=("")
else
  runs=(tests/*/ tests/test_*.py)
fi
failed=0
timings=()
for folder in "${runs[@]}"; do
  started=$SECONDS
  set +e
  if [[ -n "$folder" ]]; then
    echo "==> pytest $folder"
    .venv/bin/python -m pytest "$folder" "$@"
  else
    .venv/bin/python -m pytest "$@"
  fi
  rc=$?
  set -e
  timings+=("$(printf '%6ds  %s (exit %d)' $((SECONDS - started)) "${folder:-pytest $*}" "$rc")")
  # pytest exits 5 when nothing was collected: with a -m or -k filter a folder
  # may have nothing to run; with nothing collected anywhere, that is a failure.
  if [[ $rc -eq 5 && -n "$folder" ]]; then
    continue
  elif [[ $rc -ne 0 ]]; then
    echo "error: pytest ${folder:-$*} exited $rc" >&2
    failed=1
  else
    ran=1
  fi
done
echo "==> wall time per pytest run (${SECONDS}s in all)"
printf '%s\n' "${timings[@]}"
if [[ -z "${ran:-}" && $failed -eq 0 ]]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit $failed
