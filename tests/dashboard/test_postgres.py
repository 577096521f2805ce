"""The dashboard on PostgreSQL: the same studies, read through a read-only session."""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy
from dashboard_support import Api, DashboardProcess
from lce_nas.latency_db import LatencyStore
from postgres_support import PASSWORD, running_server

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 for this module."""
    with running_server() as server:
        yield server


def test_dashboard_reads_postgres_read_only(postgres, db_copy):
    url = postgres.new_database()
    with LatencyStore(url) as target, LatencyStore(db_copy.url) as source:
        target.import_rows(source.export_rows())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in (db_copy.main_study, db_copy.other_study):
        optuna.copy_study(from_study_name=name, from_storage=db_copy.url, to_storage=url)

    process = DashboardProcess("--db", url, "--port", "0")
    try:
        api = Api(process.url)
        studies = {s["name"]: s for s in api.get("/api/studies")}
        assert set(studies) == {db_copy.main_study, db_copy.other_study}
        told = db_copy.trials[db_copy.main_study]
        assert studies[db_copy.main_study]["complete"] == sum(
            t["state"] == "COMPLETE" for t in told
        )
        preset = next(t for t in told if t.get("preset") == "quicknet")
        trial = api.get(f"/api/studies/{db_copy.main_study}/trials/{preset['number']}")
        assert trial["measurement"]["fingerprint"] == preset["fingerprint"]
        assert trial["measurement"]["breakdown"]["categories"][1]["ms"] > 0
        footer = api.status("/")[2]
        assert "postgres:***@" in footer and PASSWORD not in footer
    finally:
        process.stop()

    from lce_nas.dashboard.data import DashboardData

    data = DashboardData(url)
    try:
        with (
            data.engine.connect() as conn,
            pytest.raises(sqlalchemy.exc.InternalError, match="read-only transaction"),
        ):
            conn.execute(sqlalchemy.text("CREATE TABLE dashboard_probe (a INTEGER)"))
    finally:
        data.close()
