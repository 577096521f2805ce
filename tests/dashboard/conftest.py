"""Dashboard fixtures: a database two small searches wrote, a server (the browser: tests/)."""

from __future__ import annotations

import shutil

import pytest
from dashboard_support import Api, DashboardProcess, FixtureDb, build_fixture_db


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory) -> FixtureDb:
    """The shared database: real LCE models timed here, two Optuna studies (read-only use!)."""
    return build_fixture_db(tmp_path_factory.mktemp("db") / "lce-nas.db")


@pytest.fixture
def db_copy(fixture_db, tmp_path) -> FixtureDb:
    """A private copy of the database, for tests that write to it."""
    target = tmp_path / "lce-nas.db"
    for suffix in ("", "-wal"):
        source = fixture_db.path.with_name(fixture_db.path.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
    return FixtureDb(
        path=target,
        url=f"sqlite:///{target}",
        measurement_ids=fixture_db.measurement_ids,
        presets=fixture_db.presets,
        trials=fixture_db.trials,
        tflite=fixture_db.tflite,
    )


@pytest.fixture(scope="session")
def server(fixture_db):
    """``lce-nas dashboard`` on a free loopback port, polling every second."""
    process = DashboardProcess("--db", fixture_db.url, "--port", "0", "--refresh", "1")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(server) -> Api:
    return Api(server.url)
