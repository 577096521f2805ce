"""Fixtures for the latency database: a real PostgreSQL server and a URL per backend.

The server (see ``tests/postgres_support.py``) is started once per test session
and stopped at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_support import PostgresServer, running_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole session."""
    with running_server() as server:
        yield server


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _fresh_url(backend: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'lce-nas.db'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, once per backend."""
    return _fresh_url(request.param, request, tmp_path)


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path, db_url: str):
    """A factory of further empty databases on the same backend as ``db_url``."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    counter = itertools.count()

    def make() -> str:
        folder = tmp_path / f"other-{next(counter)}"
        folder.mkdir()
        return _fresh_url(backend, request, folder)

    return make
