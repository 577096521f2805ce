"""Opening database URLs: SQLite set-up, PostgreSQL driver, retries, clear errors.

SQLite runs in WAL mode (readers never block the writer) with a busy timeout,
and every write transaction starts with ``BEGIN IMMEDIATE``: a deferred
transaction that reads first and writes later can fail at once with
"database is locked" when another writer got in between, whatever the busy
timeout. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from lce_nas.canonical import canonical_json
from lce_nas.errors import UserError
from lce_nas.retry import Backoff, retry

T = TypeVar("T")
log = logging.getLogger(__name__)

#: How long one SQLite statement waits for a lock before reporting "busy".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How long a write keeps retrying transient conflicts before giving up.
RETRY_DEADLINE_S = 180.0
# Execution option that marks a connection's next transaction as a write.
WRITE_OPTION = "lce_nas_write"

# PostgreSQL: serialization failure, deadlock.
_PG_TRANSIENT = {"40001", "40P01"}
_PG_UNIQUE_VIOLATION = "23505"
# PostgreSQL going away: admin/crash shutdown, still starting up (class 08 is
# "connection exception").
_PG_GONE = {"57P01", "57P02", "57P03"}
_GONE_WORDS = (
    "connection refused",
    "connection failed",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "the database system is",
    "consuming input failed",
    "connection is closed",
    "connection timeout",
)
# Databases this process has reached: losing one of them is an outage to wait
# out (a server restarting), whereas a first connection that fails is a wrong URL.
_reached: set[str] = set()


def parse_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` means psycopg 3.

    Example:
        >>> parse_url("postgresql://u:p@db/lce").drivername
        'postgresql+psycopg'
    """
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError) as err:
        raise UserError(
            f"cannot parse database URL {url!r} "
            "(expected e.g. sqlite:///lce-nas.db or postgresql://user@host/db)"
        ) from err
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and ``db info``.

    Example:
        >>> display_url("postgresql+psycopg://me:secret@db:5432/lce")
        'postgresql+psycopg://me:***@db:5432/lce'
    """
    parsed = url if isinstance(url, URL) else parse_url(url)
    return parsed.render_as_string(hide_password=True)


# "scheme://user:password@": the password part of any URL in a message.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it hidden, for errors and logs.

    Example:
        >>> redact_urls("cannot open postgresql://me:secret@db/lce: refused")
        'cannot open postgresql://me:***@db/lce: refused'
    """
    return _URL_PASSWORD.sub(r"\1***@", text)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database)


def check_sqlite_file(url: URL, create: bool) -> None:
    """Refuse a SQLite path that is missing (unless ``create``) or not a database.

    Reads only the header, so a file that is not a database is never touched.
    """
    path = sqlite_path(url)
    if path is None:
        return
    shown = display_url(url)
    if not path.exists():
        if not create:
            raise UserError(f"no database at {shown} (record something first, or check --db)")
        if not path.parent.exists():
            raise UserError(f"cannot create {shown}: folder {path.parent} does not exist")
        return
    if path.is_dir():
        raise UserError(f"{shown} is a folder, not a database file")
    if path.stat().st_size == 0:
        return  # an empty file is an empty SQLite database
    # Asked through SQLite, never with an open()/close() of our own: closing any
    # descriptor of the file drops every POSIX lock this process holds on it, and
    # another process may then fold the write-ahead log away under this process's
    # open connections ("How To Corrupt An SQLite Database File", 2.2).
    try:
        probe = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as err:
        if err.sqlite_errorcode in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            raise UserError(
                f"{shown} is not an SQLite database (corrupt or another kind of file); "
                "it was left untouched: move it away or point --db elsewhere"
            ) from err
        raise


def make_engine(url: URL) -> Engine:
    """A SQLAlchemy engine for the URL, with this project's connection settings."""
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(url)
        kwargs: dict[str, Any] = {"json_serializer": canonical_json, "pool_pre_ping": True}
        if backend == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 10}
        return create_engine(url, **kwargs)
    except (sa_exc.NoSuchModuleError, ImportError) as err:
        raise UserError(
            f"no database driver for {display_url(url)} ({err}); "
            "use sqlite:///FILE or postgresql+psycopg://..."
        ) from err


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"json_serializer": canonical_json}
    if sqlite_path(url) is None:
        # One shared connection, or each connection would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN (below) decide where transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # Safe in WAL mode: a crash loses at most the last commits, never consistency.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL mode (persistent; a no-op when already set)."""

    def attempt() -> None:
        # On the driver connection: SQLAlchemy's autobegin would open a
        # transaction, inside which SQLite refuses to change the journal mode.
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            cursor.close()
        finally:
            connection.close()
        if str(mode).lower() != "wal":
            # Another connection held a lock, so the mode stayed as it was.
            raise _Busy(f"journal_mode stayed {mode}")

    retrying(attempt, url=engine.url)


class _Busy(Exception):
    """A transient conflict of our own making (retried like a locked database)."""


def is_transient(error: BaseException, unique_races: bool = False) -> bool:
    """Whether retrying the same transaction may succeed.

    ``unique_races``: also retry unique-key violations, for idempotent upserts
    that lost a race with another writer inserting the same key.
    """
    if isinstance(error, _Busy):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_TRANSIENT:
        return True
    if unique_races and (
        sqlstate == _PG_UNIQUE_VIOLATION
        or (isinstance(error, sa_exc.IntegrityError) and "UNIQUE" in str(orig))
    ):
        return True
    message = str(orig).lower()
    return isinstance(error, sa_exc.OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` says the database server went away (restart, network), not a bug.

    Example:
        >>> connection_lost(ValueError("bad value"))
        False
    """
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    if sqlstate.startswith("08") or sqlstate in _PG_GONE:
        return True
    message = str(error.orig).lower()
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError) and any(
        words in message for words in _GONE_WORDS
    )


def expect_reachable(url: URL | str) -> None:
    """Wait out a lost connection to ``url`` as for one this process has already reached.

    A worker of a search calls this: the search reached the database, so a
    refused connection there is a server restarting, not a wrong URL.
    """
    _reached.add(display_url(url))


def retrying(
    work: Callable[[], T],
    url: URL | str,
    unique_races: bool = False,
    deadline_s: float = RETRY_DEADLINE_S,
) -> T:
    """Run ``work`` until it stops failing transiently; other errors become clear.

    Conflicts are retried by :func:`lce_nas.retry.retry`, with jittered
    backoff from 5 ms up to 0.5 s, until ``deadline_s``.

    Example:
        >>> retrying(lambda: 42, url="sqlite://")
        42
    """
    shown = display_url(url)

    def outage(err: Exception) -> bool:
        # A refused connection to a database this process has reached is a restart to wait out.
        return shown in _reached and connection_lost(err)

    def notice(err: Exception, _delay: float, _next_try: int) -> None:
        log.debug("retrying a transient conflict on %s: %s", shown, _first_line(err))

    def stuck(err: Exception, _tries: int) -> Exception:
        why, hint = (
            ("unreachable", "start it again")
            if outage(err)
            else ("busy", "try again when other writers finish")
        )
        return UserError(
            f"database {shown} stayed {why} for {deadline_s:.0f} s ({_first_line(err)}); {hint}"
        )

    try:
        result = retry(
            work,
            Backoff(first_s=0.005, max_s=0.5, deadline_s=deadline_s, jitter=True),
            transient=lambda err: outage(err) or is_transient(err, unique_races),
            on_retry=notice,
            give_up=stuck,
        )
    except Exception as err:
        clear = as_user_error(err, url)
        if clear is err:
            raise
        raise clear from err
    _reached.add(shown)
    return result


def as_user_error(error: Exception, url: URL | str) -> Exception:
    """Database errors caused by the environment become one-line UserErrors.

    Programming errors (bad SQL, constraint violations) are returned unchanged.
    """
    if isinstance(error, UserError):
        return error
    shown = display_url(url)
    if isinstance(error, sa_exc.OperationalError):
        return UserError(f"cannot use database {shown}: {_first_line(error)}")
    if isinstance(error, sa_exc.DatabaseError) and not isinstance(
        error, sa_exc.IntegrityError | sa_exc.ProgrammingError
    ):
        # e.g. "file is not a database", "database disk image is malformed".
        return UserError(f"database {shown} is unreadable: {_first_line(error)}")
    return error


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
