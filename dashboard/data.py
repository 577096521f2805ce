"""What the dashboard reads: Optuna studies and the latency database, read-only.

Studies and trials come through Optuna's own storage API (on a read-only
connection), so the dashboard follows Optuna's schema wherever Optuna does;
measurements and searches come from the latency tables with plain SELECTs.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna
from lce_nas.dashboard.readonly import has_tables, readonly_engine, readonly_target, shown_url
from lce_nas.engine.measurement import MeasurementKey
from lce_nas.latency_db.models import LatencyMeasurement, Search
from lce_nas.latency_db.records import key_sha256
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial
from sqlalchemy import Table, select
from sqlalchemy.exc import SQLAlchemyError

from lce_nas.errors import UserError

_MEAS: Table = LatencyMeasurement.__table__  # type: ignore[assignment]
_SEARCHES: Table = Search.__table__  # type: ignore[assignment]
# Optuna's tables that must exist before its storage can be opened without writing.
_OPTUNA_TABLES = ("studies", "trials", "version_info", "alembic_version")


class StudyNotFound(LookupError):
    """No study (or no trial) of that name or number in the database."""


class DashboardData:
    """Read-only access to a database that searches write.

    Example:
        >>> data = DashboardData("sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> [s.study_name for s in data.studies()]  # doctest: +SKIP
        ['quicknet-host']
    """

    def __init__(self, url: str) -> None:
        """Open ``url`` for reading; a missing SQLite file is a :class:`UserError`."""
        self.url = url
        self.display_url = shown_url(url)
        self.engine = readonly_engine(url)
        self._target, self._options = readonly_target(url)
        self._storage: RDBStorage | None = None
        self._lock = threading.Lock()
        try:
            # A real read: SQLite opens any file lazily and fails only on first use.
            has_tables(self.engine, *_OPTUNA_TABLES)
        except SQLAlchemyError as err:
            self.engine.dispose()
            raise UserError(f"cannot read database {self.display_url}: {_first_line(err)}") from err

    def close(self) -> None:
        """Release the connections."""
        if self._storage is not None:
            self._storage.remove_session()
            self._storage.engine.dispose()
        self.engine.dispose()

    # -- Optuna -----------------------------------------------------------------

    def storage(self) -> RDBStorage | None:
        """Optuna's storage on a read-only connection, or None before any study exists."""
        if self._storage is not None:
            return self._storage
        with self._lock:
            if self._storage is None and has_tables(self.engine, *_OPTUNA_TABLES):
                optuna.logging.set_verbosity(optuna.logging.WARNING)
                self._storage = RDBStorage(
                    self._target,
                    engine_kwargs=dict(self._options),
                    skip_compatibility_check=True,
                    skip_table_creation=True,
                )
        return self._storage

    def studies(self) -> list[optuna.study.FrozenStudy]:
        """Every study in the database, by name."""
        storage = self.storage()
        if storage is None:
            return []
        return sorted(storage.get_all_studies(), key=lambda s: s.study_name)

    def study(self, name: str) -> optuna.study.FrozenStudy:
        """The study named ``name``; :class:`StudyNotFound` if there is none."""
        for study in self.studies():
            if study.study_name == name:
                return study
        raise StudyNotFound(f"no study named {name!r}")

    def trials(self, study: optuna.study.FrozenStudy) -> list[FrozenTrial]:
        """All trials of a study, by number."""
        storage = self.storage()
        assert storage is not None
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        return sorted(trials, key=lambda t: t.number)

    # -- latency database ---------------------------------------------------------

    def measurement(self, measurement_id: int) -> dict[str, Any] | None:
        """The ``latency_measurements`` row with this id, or None."""
        if not has_tables(self.engine, _MEAS.name):
            return None
        query = select(_MEAS).where(_MEAS.c.id == int(measurement_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def best_measurement(self, fingerprint: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The measurement a search would use for this fingerprint and key, or None.

        The one with the most runs, then the newest (as the store's cache lookup).
        """
        if not has_tables(self.engine, _MEAS.name):
            return None
        try:
            wanted = MeasurementKey(
                key["device"],
                key["engine"],
                key["engine_version"],
                int(key["threads"]),
                dict(key.get("kernel_options") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None
        query = (
            select(_MEAS)
            .where(_MEAS.c.key_sha256 == key_sha256(fingerprint, wanted))
            .order_by(_MEAS.c.runs.desc(), _MEAS.c.measured_at.desc(), _MEAS.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def profiled_measurement(self, fingerprint: str, device: str) -> dict[str, Any] | None:
        """The newest measurement of this model on this device that has a per-op profile."""
        if not has_tables(self.engine, _MEAS.name):
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
        """Measurement rows (without their samples) for several ids at once."""
        if not ids or not has_tables(self.engine, _MEAS.name):
            return {}
        columns = [c for c in _MEAS.c if c.name not in ("samples_ms", "op_profile", "host_facts")]
        query = select(*columns).where(_MEAS.c.id.in_(sorted(set(ids))))
        with self.engine.connect() as conn:
            return {row.id: dict(row._mapping) for row in conn.execute(query)}

    def searches(self) -> dict[str, dict[str, Any]]:
        """Rows of the ``searches`` table by study name (the newest per study)."""
        if not has_tables(self.engine, _SEARCHES.name):
            return {}
        query = select(_SEARCHES).order_by(_SEARCHES.c.updated_at)
        with self.engine.connect() as conn:
            return {row.study_name: dict(row._mapping) for row in conn.execute(query)}


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
