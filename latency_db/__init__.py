"""The latency database: SQLAlchemy models, Alembic migrations and the store API.

Example:
    >>> from lce_nas.latency_db import LatencyStore
    >>> store = LatencyStore("sqlite://")  # in memory; files: sqlite:///lce-nas.db
    >>> store.schema_revision()
    '0002_measurement_origin'
"""

from lce_nas.latency_db.migrate import SchemaError, head_revision
from lce_nas.latency_db.records import AccuracyEvaluation
from lce_nas.latency_db.store import LatencyStore

__all__ = ["AccuracyEvaluation", "LatencyStore", "SchemaError", "head_revision"]
