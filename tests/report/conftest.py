"""Report test fixtures: the engine tests' loopback sshd."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The engine tests' helpers (run_cli, start_sshd, ssh_profile) serve these tests too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_support import start_sshd


@pytest.fixture(scope="session")
def report_sshd(tmp_path_factory):
    """One loopback sshd for the report's SSH test."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
