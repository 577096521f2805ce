"""The native engine's version follows its code: source digest and kernel set in the key."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lce_nas.engine import measurement_key, native
from lce_nas.engine.devices import get_device
from lce_nas.engine.native import source_digest
from lce_nas.engine.native.source_digest import digest_sources, source_files

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "engine" / "native" / "src"


def test_the_compiled_digest_is_the_digest_of_the_sources_in_this_checkout():
    # A stale build (sources changed, extension not rebuilt) fails here.
    assert native.compiled_source_digest() == digest_sources(SOURCES)
    assert re.fullmatch(r"[0-9a-f]{64}", native.compiled_source_digest())


def test_the_digest_covers_every_native_source():
    names = {p.name for p in source_files(SOURCES)}
    assert names == {p.name for p in SOURCES.iterdir() if p.is_file()}
    assert {"glue.inc", "common.h", "model.h", "module.cpp"} <= names


def test_the_compile_flags_are_part_of_the_digest(monkeypatch):
    # Flags change the machine code, so a flag change must never reuse old latencies.
    before = digest_sources(SOURCES)
    flags = (*source_digest.COMPILE_ARGS[:-1], "-O2")
    monkeypatch.setattr(source_digest, "COMPILE_ARGS", flags)
    assert digest_sources(SOURCES) != before


def test_a_changed_source_changes_the_digest_and_the_latency_key(tmp_path, monkeypatch):
    copy = tmp_path / "src"
    shutil.copytree(SOURCES, copy)
    assert digest_sources(copy) == digest_sources(SOURCES)
    glue = copy / "glue.inc"
    glue.write_bytes(glue.read_bytes() + b"\n// a kernel change\n")
    changed = digest_sources(copy)
    assert changed != digest_sources(SOURCES)
    (copy / "glue.inc").rename(copy / "glue2.inc")  # a renamed file is another build
    assert digest_sources(copy) not in (changed, digest_sources(SOURCES))

    device = get_device("host", engine="native")
    before = measurement_key(device)
    assert before.engine_version == native.engine_version()
    monkeypatch.setattr(native, "compiled_source_digest", lambda: changed)
    after = measurement_key(device)
    assert after.engine_version != before.engine_version
    assert after != before
    assert after.engine_version.endswith("." + changed[: native.DIGEST_CHARS])


def test_the_version_names_the_kernel_set_and_the_digest():
    digest = "0123456789abcdef" * 4
    assert native.engine_version("portable", digest) == (
        f"native-{native.__version__}+portable.0123456789ab"
    )
    assert native.engine_version("avx2", digest) != native.engine_version("portable", digest)
    assert native.engine_version("portable", "f" * 64) != native.engine_version("portable", digest)


@pytest.mark.parametrize("touched", ["glue.inc", "ops_util.h", "kernels_avx2.cpp"])
def test_setup_script_rebuilds_when_any_native_source_changes(tmp_path, touched):
    script = (REPO / "scripts" / "setup.sh").read_text()
    (line,) = [ln for ln in script.splitlines() if ln.startswith("digest=")]
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in"):
        shutil.copy(REPO / name, tree / name)
    shutil.copytree(REPO / "engine" / "native" / "src", tree / "engine" / "native" / "src")
    for name in ("build_info.cpp", "source_digest.py"):
        shutil.copy(REPO / "engine" / "native" / name, tree / "engine" / "native" / name)

    def stamp() -> str:
        command = f'extras=""\n{line}\necho "$digest"'
        out = subprocess.run(["bash", "-c", command], cwd=tree, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    first = stamp()
    assert first == stamp()
    path = tree / "engine" / "native" / "src" / touched
    path.write_bytes(path.read_bytes() + b"\n")
    assert stamp() != first
