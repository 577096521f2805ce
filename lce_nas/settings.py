"""Where the tool keeps its state, resolved the same way by every command."""

from __future__ import annotations

import os

DEFAULT_DB_URL = "sqlite:///lce-nas.db"
DB_ENV_VAR = "LCE_NAS_DB"


def resolve_db_url(cli_value: str | None = None) -> str:
    """The database URL: ``--db``, else ``$LCE_NAS_DB``, else ``lce-nas.db`` here.

    Example:
        >>> resolve_db_url("sqlite:///x.db")
        'sqlite:///x.db'
    """
    return cli_value or os.environ.get(DB_ENV_VAR) or DEFAULT_DB_URL
