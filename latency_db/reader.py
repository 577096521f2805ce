"""The read-only store API: measurements and searches, for readers that must never write.

:class:`MeasurementReader` answers what the dashboard shows of the latency
tables on a read-only connection (:mod:`lce_nas.latency_db.readonly`), with
the same ordering and column sets as :class:`~lce_nas.latency_db.LatencyStore`
(:func:`~lce_nas.latency_db.records.best_first`,
:data:`~lce_nas.latency_db.records.SUMMARY_MEASUREMENT_COLUMNS`).

Example:
    >>> reader = MeasurementReader("sqlite:///lce-nas.db")  # doctest: +SKIP
    >>> reader.measurement(1)["median_ms"]  # doctest: +SKIP
    9.47
"""

from __future__ import annotations

from typing import Any

from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE, MeasurementKey
from lce_nas.latency_db.models import MEASUREMENTS as _MEAS
from lce_nas.latency_db.models import SEARCHES as _SEARCHES
from lce_nas.latency_db.readonly import has_tables, readonly_engine
from lce_nas.latency_db.records import SUMMARY_MEASUREMENT_COLUMNS, best_first, key_sha256
from sqlalchemy import Engine, Table, select


class MeasurementReader:
    """Read-only queries on the latency tables of one database."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        """Open ``url`` read-only (or share ``engine``)."""
        self.engine = engine or readonly_engine(url)

    def _has(self, table: Table) -> bool:
        return has_tables(self.engine, table.name)

    def measurement(self, measurement_id: int) -> dict[str, Any] | None:
        """The ``latency_measurements`` row with this id, or None."""
        if not self._has(_MEAS):
            return None
        query = select(_MEAS).where(_MEAS.c.id == int(measurement_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def best_measurement(self, fingerprint: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The measurement a search would use for this fingerprint and key, or None."""
        if not self._has(_MEAS):
            return None
        try:
            wanted = MeasurementKey(
                key["device"],
                key["engine"],
                key["engine_version"],
                int(key["threads"]),
                dict(key.get("kernel_options") or {}),
                key.get("deploy_shape") or DEFAULT_DEPLOY_SHAPE,
            )
        except (KeyError, TypeError, ValueError):
            return None
        query = (
            select(_MEAS)
            .where(_MEAS.c.key_sha256 == key_sha256(fingerprint, wanted))
            .order_by(*best_first(_MEAS))
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def profiled_measurement(self, fingerprint: str, device: str) -> dict[str, Any] | None:
        """The newest measurement of this model on this device that has a per-op profile."""
        if not self._has(_MEAS):
            return None
        query = (
            select(_MEAS.c.id, _MEAS.c.breakdown_ms, _MEAS.c.op_profile)
            .where(_MEAS.c.fingerprint == fingerprint, _MEAS.c.device == device)
            .order_by(_MEAS.c.measured_at.desc(), _MEAS.c.id.desc())
        )
        with self.engine.connect() as conn:
            # JSON null and SQL NULL both mean "no profile": test in Python.
            found = next(
                (row.id for row in conn.execute(query) if row.breakdown_ms or row.op_profile),
                None,
            )
        return None if found is None else self.measurement(found)

    def measurements_by_id(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Summary columns of several measurements at once (no samples or profiles)."""
        if not ids or not self._has(_MEAS):
            return {}
        columns = [_MEAS.c.id, _MEAS.c.fingerprint]
        columns += [_MEAS.c[name] for name in SUMMARY_MEASUREMENT_COLUMNS]
        query = select(*columns).where(_MEAS.c.id.in_(sorted(set(ids))))
        with self.engine.connect() as conn:
            return {row.id: dict(row._mapping) for row in conn.execute(query)}

    def searches(self) -> dict[str, dict[str, Any]]:
        """Rows of the ``searches`` table by study name (the newest per study)."""
        if not self._has(_SEARCHES):
            return {}
        query = select(_SEARCHES).order_by(_SEARCHES.c.updated_at)
        with self.engine.connect() as conn:
            return {row.study_name: dict(row._mapping) for row in conn.execute(query)}
