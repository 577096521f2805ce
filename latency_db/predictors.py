"""Fitted latency predictors: derived data, one row per space and key, replaced on refit.

Functions of a :class:`~lce_nas.latency_db.store.LatencyStore` (as
:mod:`lce_nas.latency_db.fronts` is); :mod:`lce_nas.predictor` decides when
a stored fit is still valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lce_nas.latency_db.models import PREDICTORS
from sqlalchemy import Connection, select


def _this(space: str, key_sha256: str) -> Any:
    return (PREDICTORS.c.space == space) & (PREDICTORS.c.key_sha256 == key_sha256)


def stored_predictor(store: Any, space: str, key_sha256: str) -> dict[str, Any] | None:
    """The stored predictor row of a space and key hash, or None.

    Example:
        >>> from lce_nas.latency_db import LatencyStore
        >>> stored_predictor(LatencyStore("sqlite://"), "quicknet", "ab" * 32) is None
        True
    """
    query = select(PREDICTORS).where(_this(space, key_sha256))
    row = store._read(lambda conn: conn.execute(query).first())
    return None if row is None else dict(row._mapping)


def store_predictor(
    store: Any,
    space: str,
    key_sha256: str,
    key: dict[str, Any],
    training_sha256: str,
    predictor: dict[str, Any],
    fitted_at: datetime,
) -> None:
    """Replace the stored predictor of a space and key."""
    values = {
        "space": space,
        "key_sha256": key_sha256,
        "key": key,
        "training_sha256": training_sha256,
        "predictor": predictor,
        "fitted_at": fitted_at,
    }

    def work(conn: Connection) -> None:
        conn.execute(PREDICTORS.delete().where(_this(space, key_sha256)))
        conn.execute(PREDICTORS.insert().values(values))

    store._write(work, idempotent=True)
