"""The store API: record and look up latencies, accuracies and searches by fingerprint."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from lce_nas.engine.measurement import Measurement, MeasurementKey
from lce_nas.latency_db import connect, migrate
from lce_nas.latency_db.evaluations import AccuracyAndSearches
from lce_nas.latency_db.models import ARCHITECTURES as _ARCHS
from lce_nas.latency_db.models import DEVICES as _DEVICES
from lce_nas.latency_db.models import MEASUREMENTS as _MEAS
from lce_nas.latency_db.models import TABLES
from lce_nas.latency_db.records import (
    best_first,
    json_safe,
    key_sha256,
    measurement_from_row,
    measurement_row,
    now,
    where_given,
)
from sqlalchemy import Connection, Insert, Table, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from lce_nas.errors import UserError

T = TypeVar("T")


class LatencyStore(AccuracyAndSearches):
    """Latencies, accuracies and searches in one database (SQLite or PostgreSQL).

    Opening applies the shipped migrations. Every write retries transient
    conflicts (a locked SQLite file, a PostgreSQL serialization failure or
    a lost race on a unique key), so many processes can write at once.

    Example:
        >>> store = LatencyStore("sqlite://")  # in memory
        >>> store.record_device("host", "x86_64", {"cores": 2})
        >>> [d["name"] for d in store.devices()]
        ['host']
    """

    def __init__(self, url: str, create: bool = True) -> None:
        """Open the database at ``url``, creating it (unless ``create`` is False) and migrating it.

        Raises :class:`~lce_nas.latency_db.SchemaError` for a schema newer than
        this code, and :class:`~lce_nas.errors.UserError` for a URL that cannot
        be opened or a file that is not a database (left untouched).
        """
        self.url = connect.parse_url(url)
        self.display_url = connect.display_url(self.url)
        connect.check_sqlite_file(self.url, create)
        self.engine = connect.make_engine(self.url)
        try:
            if connect.sqlite_path(self.url) is not None:
                # Refuse an unknown revision before WAL mode rewrites the header.
                revision = self._read(migrate.current_revision)
                migrate.check_known(revision, self.url)
                connect.enable_wal(self.engine)
            migrate.upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (or another SQLAlchemy backend name)."""
        return self.url.get_backend_name()

    def close(self) -> None:
        """Release the connections (SQLite folds its write-ahead log back in)."""
        self.engine.dispose()

    def __enter__(self) -> LatencyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LatencyStore({self.display_url!r})"

    def __reduce__(self) -> tuple[type[LatencyStore], tuple[str]]:
        # Pickled as its URL (e.g. to hand to a Ray task): the receiver opens its own.
        return (LatencyStore, (self.url.render_as_string(hide_password=False),))

    # -- transactions -------------------------------------------------------

    def _read(self, work: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.connect() as connection, connection.begin():
                return work(connection)

        return connect.retrying(attempt, url=self.url)

    def _write(self, work: Callable[[Connection], T], idempotent: bool = False) -> T:
        def attempt() -> T:
            with self.engine.connect() as connection:
                connection.execution_options(**{connect.WRITE_OPTION: True})
                with connection.begin():
                    return work(connection)

        return connect.retrying(attempt, url=self.url, unique_races=idempotent)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read connection inside a transaction, for ad-hoc queries."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, table: Table) -> Insert:
        """An INSERT that knows ``ON CONFLICT`` on SQLite and PostgreSQL."""
        if self.backend == "postgresql":
            return postgresql.insert(table)
        if self.backend == "sqlite":
            return sqlite.insert(table)
        raise UserError(f"unsupported database backend {self.backend!r} (use SQLite or PostgreSQL)")

    # -- schema -------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The schema revision stamped in the database.

        Example:
            >>> LatencyStore("sqlite://").schema_revision()
            '0003_latency_predictors'
        """
        return self._read(migrate.current_revision)

    def counts(self) -> dict[str, int]:
        """Rows per table of this schema."""

        def work(conn: Connection) -> dict[str, int]:
            return {
                name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
                for name, model in TABLES.items()
            }

        return self._read(work)

    # -- devices ------------------------------------------------------------

    def record_device(self, name: str, kind: str, spec: dict[str, Any]) -> None:
        """Add or update a device; its kind and spec are replaced, first-seen kept.

        Example:
            >>> store = LatencyStore("sqlite://")
            >>> store.record_device("rpi4", "raspberry-pi-4b", {"cores": 4})
        """
        moment = now()
        stmt = self._insert(_DEVICES).values(
            name=name, kind=kind, spec=json_safe(spec), first_seen=moment, last_seen=moment
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "kind": stmt.excluded.kind,
                "spec": stmt.excluded.spec,
                "last_seen": _later(stmt),
            },
        )
        self._write(lambda conn: conn.execute(stmt), idempotent=True)

    def _touch_device(
        self,
        conn: Connection,
        name: str,
        first_seen: datetime,
        last_seen: datetime | None = None,
        kind: str = "",
        spec: dict[str, Any] | None = None,
    ) -> bool:
        """Make sure a device row exists and widen its first/last seen; True if new.

        A known kind and spec are never overwritten, a missing one is filled.
        """
        exists = conn.execute(select(_DEVICES.c.name).where(_DEVICES.c.name == name)).first()
        stmt = self._insert(_DEVICES).values(
            name=name,
            kind=kind,
            spec=json_safe(spec or {}),
            first_seen=first_seen,
            last_seen=last_seen or first_seen,
        )
        c = _DEVICES.c
        set_: dict[str, Any] = {
            "first_seen": case(
                (stmt.excluded.first_seen < c.first_seen, stmt.excluded.first_seen),
                else_=c.first_seen,
            ),
            "last_seen": _later(stmt),
        }
        if kind:
            set_["kind"] = case((c.kind == "", stmt.excluded.kind), else_=c.kind)
            set_["spec"] = case((c.kind == "", stmt.excluded.spec), else_=c.spec)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=set_))
        return exists is None

    def devices(self) -> list[dict[str, Any]]:
        """All devices with their number of measurements, by name."""
        counts = (
            select(_MEAS.c.device, func.count().label("measurements"))
            .group_by(_MEAS.c.device)
            .subquery()
        )
        query = (
            select(_DEVICES, func.coalesce(counts.c.measurements, 0).label("measurements"))
            .outerjoin(counts, counts.c.device == _DEVICES.c.name)
            .order_by(_DEVICES.c.name)
        )
        return self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    # -- architectures ------------------------------------------------------

    def record_architecture(
        self,
        fingerprint: str,
        space: str,
        space_version: str,
        config: dict[str, Any],
        parameters: int,
        binary_macs: int,
        float_macs: int,
        packed_bytes: int,
    ) -> bool:
        """Store an architecture once; True if it was new (idempotent).

        Example:
            >>> store = LatencyStore("sqlite://")
            >>> store.record_architecture("ab" * 32, "quicknet", "1", {}, 10, 20, 30, 40)
            True
            >>> store.record_architecture("ab" * 32, "quicknet", "1", {}, 10, 20, 30, 40)
            False
        """
        row = {
            "fingerprint": fingerprint,
            "space": space,
            "space_version": str(space_version),
            "config": json_safe(config),
            "parameters": int(parameters),
            "binary_macs": int(binary_macs),
            "float_macs": int(float_macs),
            "packed_bytes": int(packed_bytes),
            "created_at": now(),
        }
        stmt = self._insert(_ARCHS).values(row)
        stmt = stmt.on_conflict_do_nothing(index_elements=["fingerprint"]).returning(
            _ARCHS.c.fingerprint
        )
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT.
        return self._write(lambda conn: conn.execute(stmt).first() is not None, idempotent=True)

    def record_config(self, space: Any, config: Any) -> str:
        """Store a search space's config as an architecture; returns its fingerprint.

        ``space`` is a :class:`lce_nas.space.SearchSpace`: the fingerprint and
        the summary (parameters, MACs, packed size) come from it.

        Example:
            >>> from lce_nas.space import get_space
            >>> space = get_space("quicknet")
            >>> LatencyStore("sqlite://").record_config(space, space.preset("quicknet"))[:12]
            '640a3eac100c'
        """
        fingerprint = space.fingerprint(config)
        summary = space.describe(config)
        self.record_architecture(
            fingerprint,
            space.name,
            space.version,
            space.to_params(config),
            summary.parameters,
            summary.binary_macs,
            summary.float_macs,
            summary.packed_bytes,
        )
        return fingerprint

    def architecture(self, fingerprint: str) -> dict[str, Any] | None:
        """The architecture's row as a dict, or None."""
        query = select(_ARCHS).where(_ARCHS.c.fingerprint == fingerprint)
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else dict(row._mapping)

    def architectures(self, space: str | None = None) -> list[dict[str, Any]]:
        """All architectures (of one space), oldest first."""
        query = select(_ARCHS).order_by(_ARCHS.c.created_at, _ARCHS.c.fingerprint)
        if space is not None:
            query = query.where(_ARCHS.c.space == space)
        return self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    # -- latency measurements -----------------------------------------------

    def record_measurement(self, m: Measurement) -> int:
        """Store a measurement as a new sample and return its row id.

        A repeated measurement of the same key is kept as another sample;
        the device row is created if missing. ``m.fingerprint`` is an
        architecture fingerprint or ``tflite:<sha256>`` for a bare file.

        Example:
            >>> store = LatencyStore("sqlite://")
            >>> m = Measurement.from_samples([5.0, 6.0], device="host", engine="lce",
            ...     engine_version="0.16.0", threads=1, fingerprint="ab" * 32)
            >>> store.record_measurement(m)
            1
        """
        row = measurement_row(m)

        def work(conn: Connection) -> int:
            self._touch_device(conn, row["device"], row["measured_at"])
            return int(conn.execute(_MEAS.insert().values(row)).inserted_primary_key[0])

        return self._write(work)

    def sentinel_baseline(self, device: str, recent: int = 1000) -> float | None:
        """The typical (median) speed sentinel of ``device``'s last ``recent`` local measurements.

        None until there are enough (see :mod:`lce_nas.engine.sentinel`).
        """
        from lce_nas.engine.sentinel import baseline, facts_sentinel

        query = (
            select(_MEAS.c.host_facts)
            .where(_MEAS.c.device == device, _MEAS.c.origin.is_(None))
            .order_by(_MEAS.c.id.desc())
            .limit(recent)
        )
        facts = self._read(lambda conn: conn.execute(query).scalars().all())
        return baseline(facts_sentinel(f) for f in facts)

    def slowdown(self, m: Measurement) -> float | None:
        """How much slower than usual the timing core ran for ``m`` (None: no verdict)."""
        from lce_nas.engine.sentinel import facts_sentinel, slowdown

        if facts_sentinel(m.host_facts) is None:
            return None  # no sentinel (a remote device): the baseline is not read
        return slowdown(m.host_facts, self.sentinel_baseline(m.device))

    def lookup_measurement(self, fingerprint: str, key: MeasurementKey) -> Measurement | None:
        """The cached measurement for exactly this key: the one with the most runs.

        Measurements taken by this installation come before imported ones
        (see :func:`~lce_nas.latency_db.records.best_first`); ties go to the
        newest. A different device, engine, engine version, thread count or
        kernel option is a miss.
        """
        row = self.lookup_measurement_row(fingerprint, key)
        return None if row is None else measurement_from_row(row)

    def lookup_measurement_row(
        self, fingerprint: str, key: MeasurementKey
    ) -> dict[str, Any] | None:
        """Like :meth:`lookup_measurement`, but the row itself (with its ``id``)."""
        query = (
            select(_MEAS)
            .where(_MEAS.c.key_sha256 == key_sha256(fingerprint, key))
            .order_by(*best_first(_MEAS))
            .limit(1)
        )
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else dict(row._mapping)

    def measurement_rows(
        self,
        fingerprint: str | None = None,
        device: str | None = None,
        space: str | None = None,
    ) -> list[dict[str, Any]]:
        """Measurement rows (with ``id`` and the architecture's ``space``, or None).

        Every sample is listed, oldest first.
        """
        query = (
            select(_MEAS, _ARCHS.c.space)
            .outerjoin(_ARCHS, _ARCHS.c.fingerprint == _MEAS.c.fingerprint)
            .order_by(_MEAS.c.measured_at, _MEAS.c.id)
        )
        query = where_given(
            query,
            (_MEAS.c.fingerprint, fingerprint),
            (_MEAS.c.device, device),
            (_ARCHS.c.space, space),
        )
        return self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    def measurements(
        self,
        fingerprint: str | None = None,
        device: str | None = None,
        space: str | None = None,
    ) -> list[Measurement]:
        """All stored samples matching the filters, oldest first.

        Example:
            >>> LatencyStore("sqlite://").measurements(device="rpi4")
            []
        """
        return [measurement_from_row(r) for r in self.measurement_rows(fingerprint, device, space)]

    # -- fronts and transfer (see fronts.py and transfer.py) --------------------

    def front_rows(
        self,
        space: str | None = None,
        device_key: MeasurementKey | None = None,
        dataset: str | None = None,
        proxy_settings: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Architectures with their best measurement and their accuracy.

        See :func:`lce_nas.latency_db.fronts.front_rows` for the row shape.
        """
        from lce_nas.latency_db.fronts import front_rows

        return front_rows(self, space, device_key, dataset, proxy_settings)

    def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, JSON-ready (see :mod:`.transfer`)."""
        from lce_nas.latency_db.transfer import export_rows

        return export_rows(self)

    def import_rows(
        self, tables: dict[str, list[dict[str, Any]]], origin: str | None = None
    ) -> dict[str, int]:
        """Merge rows from :meth:`export_rows` of another database; new rows per table.

        Imported measurements are marked with ``origin`` (see :mod:`.transfer`).
        """
        from lce_nas.latency_db.transfer import IMPORT_ORIGIN, import_rows

        return import_rows(self, tables, origin or IMPORT_ORIGIN)


_OPEN_STORES: dict[tuple[int, str], LatencyStore] = {}
_OPEN_LOCK = threading.Lock()


def open_store(url: str) -> LatencyStore:
    """The process's store for ``url``: opened and migrated once per process, then shared.

    Workers call this for every candidate; a Ray worker process runs many
    tasks, and opening a store (checking the schema revision) once is enough.
    The store is thread-safe and must not be closed by its callers.

    Example:
        >>> open_store("sqlite://") is open_store("sqlite://")
        True
    """
    key = (os.getpid(), url)
    with _OPEN_LOCK:
        store = _OPEN_STORES.get(key)
        if store is None:
            store = _OPEN_STORES[key] = LatencyStore(url)
        return store


def _later(stmt: Any) -> Any:
    """SQL for ``max(existing last_seen, inserted last_seen)`` on both backends."""
    c = _DEVICES.c
    return case((stmt.excluded.last_seen > c.last_seen, stmt.excluded.last_seen), else_=c.last_seen)


__all__ = ["LatencyStore", "open_store"]
