"""Read-only connections: the dashboard never writes to the database it shows.

SQLite files are opened with ``mode=ro`` (SQLite itself refuses every
write); PostgreSQL sessions start with ``default_transaction_read_only``
(the server refuses every write). Both keep seeing what a running search
commits, so pages can follow it live.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lce_nas.latency_db.connect import display_url, parse_url, sqlite_path
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import URL

from lce_nas.errors import UserError


def readonly_target(url: str) -> tuple[str, dict[str, Any]]:
    """A SQLAlchemy URL and engine options that can only read ``url``.

    Example:
        >>> readonly_target("sqlite:////data/lce-nas.db")[0]  # doctest: +SKIP
        'sqlite:///file:/data/lce-nas.db?mode=ro&uri=true'
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise UserError(
                f"{display_url(parsed)} is an in-memory database: there is nothing to show "
                "(give the file a search wrote, e.g. --db sqlite:///lce-nas.db)"
            )
        path = path.expanduser().resolve()
        if not path.is_file():
            raise UserError(
                f"no database at {display_url(parsed)} (run a search first, or check --db)"
            )
        # SQLite's URI form is the only way to ask the driver for read-only mode.
        target = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
        return target, {"connect_args": {"check_same_thread": False}}
    if backend == "postgresql":
        rendered = parsed.render_as_string(hide_password=False)
        options = {"options": "-c default_transaction_read_only=on", "connect_timeout": 10}
        return rendered, {"connect_args": options, "pool_pre_ping": True}
    raise UserError(
        f"unsupported database backend {backend!r} for the dashboard (use SQLite or PostgreSQL)"
    )


def readonly_engine(url: str) -> Engine:
    """A SQLAlchemy engine that can only read the database at ``url``.

    Example:
        >>> engine = readonly_engine("sqlite:///lce-nas.db")  # doctest: +SKIP
    """
    target, options = readonly_target(url)
    return create_engine(target, **options)


def has_tables(engine: Engine, *names: str) -> bool:
    """Whether all the named tables exist (a fresh database has none of Optuna's)."""
    existing = set(inspect(engine).get_table_names())
    return all(name in existing for name in names)


def shown_url(url: str | URL) -> str:
    """The URL as shown to users (password hidden)."""
    return display_url(url)
