"""A database server restarted under a running search: reads and writes wait it out."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from lce_nas.latency_db import LatencyStore
from lce_nas.latency_db.connect import connection_lost, expect_reachable
from lce_nas.search.study import storage_for
from postgres_support import running_server

from lce_nas.errors import UserError

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server():
    """A server of this module's own: the tests stop and start it."""
    with running_server() as pg:
        yield pg


def _restart_later(server, down_s: float) -> threading.Thread:
    server.stop()

    def back() -> None:
        time.sleep(down_s)
        server.launch()

    thread = threading.Thread(target=back)
    thread.start()
    return thread


def test_the_store_waits_out_a_restart_and_writes_once(server):
    url = server.new_database()
    with LatencyStore(url) as store:
        store.record_device("a", "host", {"cores": 1})
        started = time.monotonic()
        thread = _restart_later(server, 3.0)
        try:
            store.record_device("b", "host", {"cores": 2})
            names = [d["name"] for d in store.devices()]
        finally:
            thread.join()
        assert time.monotonic() - started >= 2.5  # it really waited for the server
    assert sorted(names) == ["a", "b"]


def test_optuna_calls_wait_out_a_restart(server):
    url = server.new_database()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage_for(url), directions=["maximize", "minimize"])
    trial = study.ask()
    thread = _restart_later(server, 3.0)
    try:
        trial.set_user_attr("during", "outage")
        study.tell(trial, [0.5, 1.0])
    finally:
        thread.join()
    (done,) = study.get_trials(deepcopy=False)
    assert done.state == optuna.trial.TrialState.COMPLETE
    assert done.user_attrs == {"during": "outage"} and done.values == [0.5, 1.0]
    assert len(study.get_trials()) == 1


def test_a_server_never_reached_is_a_quick_clear_error():
    started = time.monotonic()
    with pytest.raises(UserError, match="cannot use database") as raised:
        LatencyStore("postgresql+psycopg://postgres:s3cret@127.0.0.1:9/none")
    assert time.monotonic() - started < 30
    assert "s3cret" not in str(raised.value)


def test_a_worker_treats_a_refused_connection_as_an_outage(server):
    import sqlalchemy

    url = server.new_database()
    expect_reachable(url)  # what the search's trainers and device worker say
    thread = _restart_later(server, 2.0)
    try:
        with LatencyStore(url) as store:  # opened while the server is down
            assert store.schema_revision() is not None
    finally:
        thread.join()
    engine = sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
    with pytest.raises(sqlalchemy.exc.OperationalError) as refused:
        engine.connect()
    assert connection_lost(refused.value)
    assert not connection_lost(ValueError("connection refused"))
