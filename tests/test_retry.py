"""The one retry policy and the places that use it: devices and the database."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from lce_nas.engine.devices import get_device
from lce_nas.engine.remote import retrying as device_retrying
from lce_nas.latency_db.connect import retrying as db_retrying
from sqlalchemy import create_engine, text

from lce_nas.errors import UserError
from lce_nas.retry import Backoff, retry


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then returns ``value``."""

    def __init__(self, failures: int, error: Exception, value: str = "done") -> None:
        self.failures, self.error, self.value, self.calls = failures, error, value, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.value


def _is_connection_error(err: Exception) -> bool:
    return isinstance(err, ConnectionError)


def test_transient_failures_are_retried_with_exponential_backoff():
    action, waits, notices, reconnects = Flaky(2, ConnectionError("dropped")), [], [], []
    result = retry(
        action,
        Backoff(first_s=0.5, tries=5),
        transient=_is_connection_error,
        before_retry=lambda: reconnects.append(1),
        on_retry=lambda err, delay, nxt: notices.append((str(err), delay, nxt)),
        sleep=waits.append,
    )
    assert result == "done" and action.calls == 3
    assert waits == [0.5, 1.0]
    assert notices == [("dropped", 0.5, 2), ("dropped", 1.0, 3)]
    assert len(reconnects) == 2  # before each new try, never before the first


def test_a_permanent_failure_stops_at_once():
    action, waits = Flaky(5, ValueError("bad model")), []
    with pytest.raises(ValueError, match="bad model"):
        backoff = Backoff(first_s=0.1, tries=5)
        retry(action, backoff, transient=_is_connection_error, sleep=waits.append)
    assert action.calls == 1 and waits == []


def test_giving_up_after_the_last_try_raises_the_chosen_error():
    action, waits = Flaky(10, ConnectionError("gone")), []
    with pytest.raises(UserError, match="gave up after 3: gone") as info:
        retry(
            action,
            Backoff(first_s=0.1, tries=3),
            transient=_is_connection_error,
            give_up=lambda err, tries: UserError(f"gave up after {tries}: {err}"),
            sleep=waits.append,
        )
    assert action.calls == 3 and waits == [0.1, 0.2]
    assert isinstance(info.value.__cause__, ConnectionError)


def test_a_deadline_stops_retrying_and_delays_are_capped_and_jittered():
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    action, waits = Flaky(1000, ConnectionError("locked")), []
    backoff = Backoff(first_s=1.0, max_s=4.0, deadline_s=20.0, jitter=True)
    with pytest.raises(ConnectionError):
        retry(action, backoff, transient=_is_connection_error, sleep=sleep, clock=lambda: now[0])
    assert now[0] > 20.0 and now[0] < 20.0 + 4.0 * 1.5
    assert all(0.5 <= w < 6.0 for w in waits)
    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_device_retries_follow_the_profile_and_name_the_device():
    device = get_device("android", serial="R58M12345", retries=3, retry_backoff_s=0.25)
    notices, waits, reconnects = [], [], []
    action = Flaky(2, OSError("device offline"))
    out = device_retrying(
        "running the benchmark",
        action,
        device=device,
        transient=(OSError,),
        reconnect=lambda: reconnects.append(1),
        progress=notices.append,
        sleep=waits.append,
    )
    assert out == "done" and action.calls == 3 and len(reconnects) == 2
    assert waits == [0.25, 0.5]
    assert notices[0] == (
        "running the benchmark failed (device offline); retrying in 0.2 s (try 2 of 3)"
    )

    gone = Flaky(10, OSError("device offline"))
    with pytest.raises(UserError) as info:
        device_retrying(
            "copying the model",
            gone,
            device=device,
            transient=(OSError,),
            reconnect=lambda: None,
            sleep=lambda _s: None,
        )
    assert gone.calls == 3
    assert str(info.value) == (
        "lost device 'android' (R58M12345) while copying the model: device offline "
        "(gave up after 3 tries); check that it is up and reachable"
    )

    refused = Flaky(10, UserError("command failed on 'android' (exit 1): no such file"))
    with pytest.raises(UserError, match="no such file"):
        device_retrying(
            "running", refused, device=device, transient=(OSError,), reconnect=lambda: None
        )
    assert refused.calls == 1


def _locked_database(path):
    """A SQLite file whose write lock another connection holds, and an engine that never
    waits for a lock (every try meets "database is locked" until the holder is done)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    tries = []

    def write() -> int:
        tries.append(1)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        return len(tries)

    return holder, engine, write


def test_database_retries_a_real_lock_until_the_writer_is_done(tmp_path):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder, engine, write = _locked_database(tmp_path / "locked.db")
    release = threading.Timer(0.3, holder.execute, args=("COMMIT",))
    release.start()
    try:
        assert db_retrying(write, url=url, deadline_s=20.0) > 1
    finally:
        release.join()
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]


def test_database_permanent_errors_and_the_deadline_are_one_clear_line(tmp_path):
    path = tmp_path / "db.db"
    url = f"sqlite:///{path}"
    engine = create_engine(url, connect_args={"timeout": 0})
    calls = []

    def bad_sql() -> None:
        calls.append(1)
        with engine.begin() as conn:
            conn.execute(text("SELEC 1"))

    with pytest.raises(Exception, match="syntax error"):
        db_retrying(bad_sql, url=url)
    assert len(calls) == 1

    holder, _, write = _locked_database(tmp_path / "busy.db")
    with pytest.raises(UserError, match=r"stayed busy for 0 s \(database is locked\)"):
        db_retrying(write, url=f"sqlite:///{tmp_path / 'busy.db'}", deadline_s=0.2)
    holder.execute("ROLLBACK")
