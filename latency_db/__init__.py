"""The latency database: SQLAlchemy models, Alembic migrations, the store API and its read path.

Writers use :class:`LatencyStore` (one per process: :func:`open_store`);
readers that must never write (the dashboard) use
:mod:`lce_nas.latency_db.reader` on a read-only connection
(:mod:`lce_nas.latency_db.readonly`).

Example:
    >>> from lce_nas.latency_db import LatencyStore
    >>> store = LatencyStore("sqlite://")  # in memory; files: sqlite:///lce-nas.db
    >>> store.schema_revision()
    '0001'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AccuracyEvaluation": "lce_nas.latency_db.records",
    "LatencyStore": "lce_nas.latency_db.store",
    "open_store": "lce_nas.latency_db.store",
    "SchemaError": "lce_nas.latency_db.migrate",
    "head_revision": "lce_nas.latency_db.migrate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy, so that readers (``lce-nas front``, the dashboard) never load Alembic.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lce_nas.latency_db' has no attribute {name!r}")
