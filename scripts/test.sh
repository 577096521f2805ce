#!/usr/bin/env bash
# Installs everything the tests need (including PostgreSQL, OpenSSH and
# Chromium, which the test fixtures start on loopback) and runs the suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
# One pytest process per test folder unless paths are given: TensorFlow keeps
# what each conversion allocates, and the whole suite in one process outgrows a
# 24 GB machine. The folders run in two lanes side by side (much of a test's
# time is waiting on a subprocess, a server or a conversion's single thread);
# every folder that starts Ray is in the first lane, so that no two Ray
# clusters (each sized to the whole machine, sharing the token file) overlap;
# the dashboard's and the report's folders join it to even the lanes out.
# LCE_NAS_TEST_LANES=1 runs them one after the other.
first_lane=(tests/cluster/ tests/search/ tests/workers/ tests/db/ tests/dashboard/ tests/report/
  tests/test_*.py)
paths=()
for arg in "$@"; do [[ -e "$arg" || "$arg" == tests/* ]] && paths+=("$arg"); done
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# run_step NAME LABEL COMMAND...: COMMAND's output printed whole once it ends, its
# time and exit status kept under NAME.
run_step() {
  local name=$1 label=$2 started rc
  shift 2
  started=$SECONDS
  set +e
  "$@" >"$logs/$name.log" 2>&1
  rc=$?
  set -e
  flock "$logs" bash -c 'echo "==> $1"; cat "$2"' _ "$label" "$logs/$name.log"
  printf '%6ds  %s (exit %d)\n' $((SECONDS - started)) "$label" "$rc" >"$logs/$name.time"
  echo "$label" >"$logs/$name.label"
  echo "$rc" >"$logs/$name.rc"
}

# run_folder FOLDER: pytest on FOLDER (all of pytest's arguments when empty).
run_folder() {
  local folder=$1
  shift
  if [[ -n "$folder" ]]; then
    run_step "pytest_$(echo "$folder" | tr '/.' '__')" "pytest $folder" \
      .venv/bin/python -m pytest "$folder" "$@"
  else
    run_step pytest_all "pytest $*" .venv/bin/python -m pytest "$@"
  fi
}

# The native engine under AddressSanitizer + UndefinedBehaviorSanitizer: its
# fast tests and the fuzz corpus plus mutants (LCE_NAS_SANITIZE=0 skips). The
# mutants' seed is fixed so that a run's verdict is the code's, not the draw's;
# `scripts/sanitize.sh N` without LCE_NAS_FUZZ_SEED explores fresh ones.
run_sanitizer() {
  [[ "${LCE_NAS_SANITIZE:-1}" == "0" ]] && return 0
  run_step sanitizer "scripts/sanitize.sh 500" \
    env LCE_NAS_FUZZ_SEED="${LCE_NAS_FUZZ_SEED:-1}" scripts/sanitize.sh 500
}

# run_lane STEP...: the steps (test folders, or "sanitizer") one after the other,
# pytest's arguments in $pytest_args.
run_lane() {
  local step
  for step in "$@"; do
    if [[ "$step" == sanitizer ]]; then run_sanitizer; else run_folder "$step" "${pytest_args[@]}"; fi
  done
}

pytest_args=("$@")
if (( ${#paths[@]} )); then
  run_sanitizer
  run_folder "" "$@"
else
  folders=()
  for folder in tests/*/ tests/test_*.py; do
    # Support folders (a pytest plugin, a sitecustomize) hold no tests of their own.
    [[ -d "$folder" ]] && ! compgen -G "$folder/test_*.py" >/dev/null && continue
    folders+=("$folder")
  done
  # The sanitizer (native code only, no Ray) leads the second lane.
  first=() second=(sanitizer)
  for folder in "${folders[@]}"; do
    if [[ " ${first_lane[*]} " == *" $folder "* ]]; then first+=("$folder"); else second+=("$folder"); fi
  done
  if [[ "${LCE_NAS_TEST_LANES:-2}" == "1" ]]; then
    run_lane "${first[@]}" "${second[@]}"
  else
    run_lane "${first[@]}" &
    first_pid=$!
    # Ray's heartbeats and health checks time out under a busy CPU: the Ray lane runs
    # at normal priority, the other one on what CPU it leaves.
    ( renice -n 15 "$BASHPID" >/dev/null; run_lane "${second[@]}" ) &
    second_pid=$!
    wait "$first_pid" "$second_pid" || true
  fi
fi

failed=0
for rc_file in "$logs"/*.rc; do
  [[ -e "$rc_file" ]] || { echo "error: no test run finished" >&2; exit 1; }
  rc=$(cat "$rc_file")
  name=$(basename "$rc_file" .rc)
  # pytest exits 5 when nothing was collected: with a -m or -k filter a folder
  # may have nothing to run; with nothing collected anywhere, that is a failure.
  if [[ $rc -eq 5 && $name == pytest_tests_* ]]; then
    continue
  elif [[ $rc -ne 0 ]]; then
    echo "error: $(cat "$logs/$name.label") exited $rc" >&2
    failed=1
  elif [[ $name == pytest_* ]]; then
    ran=1
  fi
done
echo "==> wall time per step (${SECONDS}s in all)"
cat "$logs"/*.time
if [[ -z "${ran:-}" && $failed -eq 0 ]]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit $failed
