#!/usr/bin/env bash
# Installs what lce-nas needs on a Debian machine with Python 3.11: system
# packages (apt-get, when run as root) and a virtual environment in .venv with
# the package installed in editable mode. Safe to run again: it only does
# what is missing.
#
#   scripts/setup.sh          the tool and its embedded defaults
#   scripts/setup.sh --test   also the test services (PostgreSQL, OpenSSH, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

# dataset-fashion-mnist is the bundled offline dataset; g++ builds the native engine.
apt_packages=(dataset-fashion-mnist g++ make python3-venv)
if (( want_test )); then
  apt_packages+=(postgresql openssh-server openssh-client chromium)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-}
if [[ -z "$python" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[[ -n "$python" ]] || { echo "error: lce-nas needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

[[ -x .venv/bin/python ]] || { echo "==> creating .venv with $python"; "$python" -m venv .venv; }

# Reinstall only when what pip reads changed (metadata or native sources).
extras=""
(( want_test )) && extras="[test]"
stamp=.venv/.lce-nas-installed
# Every file of the native engine's build (src/ holds *.cpp, *.h, *.inc), names included.
digest="$( { cat pyproject.toml setup.py MANIFEST.in; find engine/native/src engine/native/build_info.cpp engine/native/source_digest.py -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)$extras"
if ! grep -qx "$digest" "$stamp" 2>/dev/null; then
  echo "==> pip install -e .$extras"
  # The build requirements too, so that a rebuild with --no-build-isolation works.
  .venv/bin/python -m pip install -q --upgrade pip "setuptools>=77" wheel "pybind11>=3"
  .venv/bin/python -m pip install -q -e ".$extras"
  echo "$digest" >> "$stamp"
  echo "${digest%\[test\]}" >> "$stamp"
fi
