"""The latency database: SQLAlchemy models, Alembic migrations, the store API and its read path.

Writers use :class:`LatencyStore` (one per process: :func:`open_store`);
readers that must never write (the dashboard) use
:mod:`lce_nas.latency_db.reader` on a read-only connection
(:mod:`lce_nas.latency_db.readonly`).

Example:
    >>> from lce_nas.latency_db import LatencyStore
    >>> store = LatencyStore("sqlite://")  # in memory; files: sqlite:///lce-nas.db
    >>> store.schema_revision()
    '0003_latency_predictors'
"""

from __future__ import annotations

from lce_nas.lazy import lazy_exports

_EXPORTS = {
    "AccuracyEvaluation": "lce_nas.latency_db.records",
    "LatencyStore": "lce_nas.latency_db.store",
    "open_store": "lce_nas.latency_db.store",
    "SchemaError": "lce_nas.latency_db.migrate",
    "head_revision": "lce_nas.latency_db.migrate",
}

# Lazy, so that importing the package loads nothing heavy.
__getattr__, __all__ = lazy_exports("lce_nas.latency_db", _EXPORTS)
