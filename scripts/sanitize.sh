#!/usr/bin/env bash
# Builds an AddressSanitizer + UndefinedBehaviorSanitizer copy of the native
# engine into build/sanitize (the installed extension is left alone), then runs
# the native engine's fast tests and the fuzz corpus plus fresh mutants against
# it. Any sanitizer report aborts the process it happens in: a failed test, or
# a crash the fuzzer counts.
#
#   scripts/sanitize.sh [MUTANTS] [--fuzz-only]     (default 200 fresh mutants)
#
# LCE_NAS_FUZZ_SEED picks the mutants (default: random, printed), LCE_NAS_FUZZ_OUT
# where the JSON-lines results go (default build/sanitize/fuzz.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

mutants=${1:-200}
fuzz_only=${2:-}
py=.venv/bin/python
out=build/sanitize
mkdir -p "$out/obj" "$out/site"

suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
ext="$out/_native$suffix"
# The engine's own flags (source_digest.COMPILE_ARGS, what setup.py builds with) but its
# optimisation level: this build is -O1, so the sanitizers see every access.
read -r -a engine_flags <<< "$("$py" -c '
import importlib.util as u
spec = u.spec_from_file_location("source_digest", "engine/native/source_digest.py")
module = u.module_from_spec(spec)
spec.loader.exec_module(module)
print(" ".join(f for f in module.COMPILE_ARGS if not f.startswith("-O")))')"
flags=(-std=c++17 -O1 -g -fPIC -fno-omit-frame-pointer "${engine_flags[@]}"
       -fsanitize=address,undefined -fno-sanitize-recover=undefined -fvisibility=hidden)
# pip builds the regular extension in an isolated environment; this build needs
# pybind11's headers in .venv itself.
"$py" -c 'import pybind11' 2>/dev/null || "$py" -m pip install -q "pybind11>=3"
read -r -a includes <<< "$("$py" -m pybind11 --includes)"

# Rebuild only when the sources or the flags changed.
digest=$({ echo "${flags[*]}"; cat engine/native/src/*; } | sha256sum | cut -c1-16)
if [[ ! -f "$ext" || "$(cat "$out/digest" 2>/dev/null)" != "$digest" ]]; then
  echo "==> building the sanitizer copy of the native engine"
  objects=()
  for src in engine/native/src/*.cpp; do
    obj="$out/obj/$(basename "${src%.cpp}").o"
    objects+=("$obj")
    g++ "${flags[@]}" "${includes[@]}" -c "$src" -o "$obj" &
    # Two compilers at a time: the machines this runs on are small.
    if (( $(jobs -r | wc -l) >= 2 )); then wait -n; fi
  done
  wait
  g++ -shared -fsanitize=address,undefined "${objects[@]}" -o "$ext"
  echo "$digest" > "$out/digest"
fi

# Python finds the sanitizer copy first: it is put in sys.modules under the
# extension's name before anything imports lce_nas.
cat > "$out/site/sitecustomize.py" <<EOF
import importlib.machinery, importlib.util, sys
_name = "lce_nas.engine.native._native"
_loader = importlib.machinery.ExtensionFileLoader(_name, "$(realpath "$ext")")
_spec = importlib.util.spec_from_file_location(_name, _loader.path, loader=_loader)
_module = importlib.util.module_from_spec(_spec)
_loader.exec_module(_module)
sys.modules[_name] = _module
EOF

export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
# Python's own allocations are never freed at exit: leak reports would be noise.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$PWD/$out/site${PYTHONPATH:+:$PYTHONPATH}"

loaded=$("$py" -c 'from lce_nas.engine.native import _native; print(_native.__file__)')
[[ "$loaded" == "$(realpath "$ext")" ]] || { echo "error: the sanitizer copy was not loaded ($loaded)" >&2; exit 1; }
if [[ "$fuzz_only" != "--fuzz-only" ]]; then
  # The API tests and the corpus tests run every op the engine has, and two small
  # models the comparison and layout ops; the other comparisons with LCE convert
  # dozens of models, too slow under the sanitizers for CI.
  echo "==> native tests under ASan + UBSan"
  # The peaks' bounds are for the optimised build (this one is -O1 and instrumented).
  "$py" -m pytest tests/native/test_native_api.py tests/native/test_fuzz.py -x -q \
    tests/native/test_ops.py::test_where_quantizers_and_comparisons_match_lce \
    tests/native/test_ops.py::test_layout_ops_match_lce_and_numpy -p no:cacheprovider \
    --deselect tests/native/test_native_api.py::test_peaks_count_the_work_of_their_loops
fi
echo "==> fuzz corpus + $mutants mutants under ASan + UBSan"
"$py" tests/native/fuzz.py --mutants "$mutants" --seed "${LCE_NAS_FUZZ_SEED:-$RANDOM}" \
  --timeout 60 --out "${LCE_NAS_FUZZ_OUT:-$out/fuzz.jsonl}" --save-failures "$out/failures"
