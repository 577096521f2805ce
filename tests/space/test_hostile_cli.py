"""Hostile input to the space, front and db commands: one ``error:`` line, exit 2, no work.

``convert`` runs as a real process: LCE's converter crashed the whole
process on a zero-class model, which an in-process runner would not survive.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import invoke, one_line_error
from lce_nas.latency_db import LatencyStore


def run(*args: str):
    """The CLI in this process (stderr kept apart, exceptions shown as tracebacks)."""
    result = invoke(*args)
    return result.exit_code, result.stderr + (
        "Traceback" if result.exception and not isinstance(result.exception, SystemExit) else ""
    )


def run_process(*args: str, cwd: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "lce_nas.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stderr


def test_deeply_nested_params_are_refused_before_parsing():
    nested = "[" * 30_000 + "]" * 30_000
    one_line_error(*run("describe", "--params", nested), "--params", "nested 30000 levels")
    shallow = '{"kernel_size": [[[[5]]]]}'
    one_line_error(*run("describe", "--params", shallow), "kernel_size")


def test_numbers_too_long_to_read_and_huge_params_are_one_line():
    digits = '{"kernel_size": ' + "9" * 5000 + "}"
    one_line_error(*run("describe", "--params", digits), "malformed JSON in --params", "digits")
    huge = '{"kernel_size": 3' + " " * (2 << 20) + "}"
    one_line_error(*run("describe", "--params", huge), "too long for an architecture")


def test_binary_params_file_is_refused(tmp_path):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line_error(*run("describe", "--params-file", str(binary)), "not UTF-8 text")
    nul = tmp_path / "nul.json"
    nul.write_bytes(b'{"kernel_size": 3}\x00\x00')
    one_line_error(*run("describe", "--params-file", str(nul)), "binary")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--input-size", "0"), ("--input-size", "-5"), ("--classes", "-1"), ("--classes", "0")],
)
def test_convert_refuses_sizes_and_counts_below_one(tmp_path, flag, value):
    out = tmp_path / "m.tflite"
    code, stderr = run_process(
        "convert", "--params", '{"section_blocks": [1, 1, 1, 1]}', flag, value, "-o", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    refusal = {
        "--input-size": f"'--input-size': {value} is not in the range",
        "--classes": f"--classes must be a whole number in 1..100000, got {value}",
    }
    one_line_error(code, stderr, refusal[flag])
    assert not out.exists()


def test_convert_to_a_folder_that_refuses_files_fails_before_building(tmp_path):
    code, stderr = run_process(
        "convert", "--preset", "quicknet", "-o", "/proc/q.tflite", cwd=tmp_path
    )
    one_line_error(code, stderr, "-o /proc/q.tflite: cannot write there")


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("--csv", "/proc/front.csv", "cannot write there"),
        ("--plot", "/proc/front.png", "cannot write there"),
        ("--plot", "front.bogus", "unknown format '.bogus'"),
        ("--plot", "front", "unknown format no suffix"),
    ],
)
def test_front_checks_its_outputs_before_reading_the_study(tmp_path, flag, value, reason):
    db = tmp_path / "lce-nas.db"
    front = run("front", "--study", "s", flag, value, "--db", f"sqlite:///{db}")
    one_line_error(*front, f"{flag} {value}: {reason}")
    assert not db.exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [("/proc/lab.json", "-o /proc/lab.json: cannot write there"), (".", "is a folder")],
)
def test_db_export_checks_its_output_first(tmp_path, target, message):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    LatencyStore(url).close()
    out = str(tmp_path) if target == "." else target
    one_line_error(*run("db", "export", "--db", url, "-o", out), message)


def test_the_early_check_leaves_an_existing_file_as_it_is(tmp_path):
    out = tmp_path / "front.csv"
    out.write_text("kept\n")
    db = f"sqlite:///{tmp_path / 'lce-nas.db'}"
    LatencyStore(db).close()
    one_line_error(*run("front", "--study", "nope", "--csv", str(out), "--db", db), "no study")
    assert out.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".front")] == []
