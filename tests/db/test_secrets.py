"""A database password never appears in what lce-nas prints: hints, tables, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from db_support import populate
from lce_nas.latency_db import LatencyStore
from sqlalchemy.engine import make_url

from lce_nas.cli import main

pytestmark = pytest.mark.postgres

# Unique, so a hit can only be this test's password (the server trusts loopback).
MARKER = "pw-Marker-7f3c9a"

FAST_HOST = """
[devices.fast-host]
kind = "host"
max_seconds = 1.0
min_seconds = 0.2
min_runs = 3
warmup_runs = 1
"""


@pytest.fixture
def secret_url(postgres_server) -> str:
    url = make_url(postgres_server.new_database()).set(password=MARKER)
    return url.render_as_string(hide_password=False)


def _output(result) -> str:
    return result.output  # stdout and stderr, as a terminal shows them


def test_db_commands_and_their_errors_hide_the_password(secret_url, tmp_path):
    with LatencyStore(secret_url) as store:
        populate(store)
    runner = CliRunner()
    outputs = []
    for args in (
        ["db", "info", "--db", secret_url],
        ["db", "measurements", "--db", secret_url],
        ["db", "export", "--db", secret_url, "-o", str(tmp_path / "lab.json")],
        ["db", "import", str(tmp_path / "lab.json"), "--db", secret_url],
        ["front", "--study", "missing", "--db", secret_url],
        ["db", "info", "--db", f"postgresql://postgres:{MARKER}@127.0.0.1:notaport/x"],
    ):
        result = runner.invoke(main, args)
        outputs.append(_output(result))
        assert "Traceback" not in outputs[-1]
    info = runner.invoke(main, ["db", "info"], env={"LCE_NAS_DB": secret_url})
    assert info.exit_code == 0
    outputs.append(_output(info))
    assert "postgres:***@127.0.0.1" in outputs[0]
    assert "no study 'missing'" in outputs[4] and outputs[5].startswith("error: ")
    assert not [out for out in outputs if MARKER in out]


@pytest.mark.slow
def test_search_hints_never_print_the_password(secret_url, tmp_path):
    (tmp_path / "lce-nas.toml").write_text(FAST_HOST)
    proc = subprocess.run(
        [sys.executable, "-m", "lce_nas.cli", "search", "--device", "fast-host",
         "--study-name", "secret", "--trials", "1", "--max-latency-ms", "0.001",
         "--epochs", "1", "--subset", "256", "--width", "0.125", "--db", secret_url],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "COLUMNS": "200", "XDG_CONFIG_HOME": str(tmp_path / ".config")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "dashboard: lce-nas dashboard --db 'postgresql+psycopg://postgres:***@" in out
    assert "export: lce-nas export --db 'postgresql+psycopg://postgres:***@" in out
    assert MARKER not in proc.stdout + proc.stderr
    assert not [p for p in Path(tmp_path).rglob("*") if p.is_file() and MARKER in _text(p)]


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
