"""Alembic migrations, applied programmatically when a store opens.

The schema's revision lives in its own version table
(:data:`~lce_nas.latency_db.models.VERSION_TABLE`), next to Optuna's
``alembic_version``, so neither tool ever reads the other's revision.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from lce_nas.latency_db.connect import WRITE_OPTION, display_url, retrying
from lce_nas.latency_db.models import VERSION_TABLE
from sqlalchemy import Connection, Engine, inspect, text

from lce_nas.errors import UserError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The newest shipped revision, known without loading Alembic (a test checks it is
#: Alembic's head): an up-to-date database, the usual case, opens without it.
HEAD_REVISION = "0003_latency_predictors"
# Key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK_KEY = 0x6C63655F6E6173  # "lce_nas"


class SchemaError(UserError):
    """The database's schema revision is one this version of lce-nas does not know.

    The CLI prints it as one ``error:`` line, like every :class:`UserError`.

    Example:
        >>> isinstance(SchemaError("database schema 0099 is newer than this lce-nas"), UserError)
        True
    """


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the shipped migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def script_directory() -> ScriptDirectory:
    """The shipped migration scripts (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this code knows.

    Example:
        >>> head_revision()
        '0003_latency_predictors'
    """
    head = script_directory().get_current_head()
    assert head is not None, "the shipped migrations have exactly one head"
    return head


def current_revision(connection: Connection) -> str | None:
    """The schema revision stamped in the database, or None before the first upgrade."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    heads = sorted(row[0] for row in rows)
    return ",".join(heads) if heads else None


def check_known(revision: str | None, url: object) -> None:
    """Raise :class:`SchemaError` when a stamped revision is not among the shipped ones."""
    if revision is None or revision == HEAD_REVISION:
        return
    from alembic.util.exc import CommandError

    script = script_directory()
    for rev in revision.split(","):
        try:
            known = script.get_revision(rev) is not None
        except CommandError:
            known = False
        if not known:
            raise SchemaError(
                f"database {display_url(url)} has schema revision {rev}, newer than this "
                f"lce-nas knows (up to {head_revision()}); upgrade lce-nas to use it "
                "(the database was left unchanged)"
            )


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head; True when something was applied.

    Checks first with a read so that an up-to-date database (the usual case)
    takes no lock, and a newer or unknown revision is refused before anything
    is written.
    """

    def read() -> str | None:
        with engine.connect() as connection:
            return current_revision(connection)

    revision = retrying(read, url=engine.url)
    check_known(revision, engine.url)
    if revision == HEAD_REVISION:
        return False
    from alembic import command

    def write() -> bool:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Concurrent openers of a fresh database queue here.
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": _PG_LOCK_KEY})
                again = current_revision(connection)
                check_known(again, engine.url)
                if again == HEAD_REVISION:
                    return False
                command.upgrade(alembic_config(connection), "head")
                return True

    return retrying(write, url=engine.url, unique_races=True)
