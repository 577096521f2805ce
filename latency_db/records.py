"""Values the store takes and returns, and how they map to table rows."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE, Measurement, MeasurementKey
from lce_nas.latency_db.models import MEASUREMENTS
from sqlalchemy import case

from lce_nas.canonical import sha256_hex

#: Columns only the store itself reads: the row id, derived hashes, leftovers, write time.
INTERNAL_MEASUREMENT_COLUMNS = ("id", "key_sha256", "sample_sha256", "extra", "recorded_at")
#: Where a row came from (NULL: measured here); kept by the store, not part of a measurement.
PROVENANCE_COLUMNS = ("origin",)
#: Columns too bulky for lists and fronts: every sample, the per-op profile, host facts.
BULKY_MEASUREMENT_COLUMNS = ("samples_ms", "op_profile", "host_facts")
#: Measurement fields that have their own column (from the model); the rest go to ``extra``.
MEASUREMENT_COLUMNS = tuple(
    c.name
    for c in MEASUREMENTS.c
    if c.name not in (*INTERNAL_MEASUREMENT_COLUMNS, *PROVENANCE_COLUMNS)
)
#: What a list or a front shows of a measurement: its key, spread, breakdown and model hash.
SUMMARY_MEASUREMENT_COLUMNS = (
    tuple(
        name
        for name in MEASUREMENT_COLUMNS
        if name not in (*BULKY_MEASUREMENT_COLUMNS, "fingerprint")
    )
    + PROVENANCE_COLUMNS
)


def where_given(query: Any, *pairs: tuple[Any, Any]) -> Any:
    """``query`` narrowed by ``column == value`` for each (column, value) whose value is given.

    Example:
        >>> from sqlalchemy import select
        >>> q = where_given(select(MEASUREMENTS.c.id), (MEASUREMENTS.c.device, None))
        >>> "WHERE" in str(q)
        False
    """
    for column, value in pairs:
        if value is not None:
            query = query.where(column == value)
    return query


def best_first(table: Any) -> tuple[Any, ...]:
    """ORDER BY terms that put a key's best measurement first.

    Measurements taken by this installation (``origin`` NULL) before imported
    ones, whatever their run count: a file from elsewhere cannot silently
    replace what was measured here. Then most runs, newest, highest id. The
    one rule every cache lookup, front and page uses (see :func:`best_rank`).

    Example:
        >>> from sqlalchemy import select
        >>> t = MEASUREMENTS
        >>> print(select(t.c.id).order_by(*best_first(t)))  # doctest: +ELLIPSIS
        SELECT ... ORDER BY CASE WHEN (latency_measurements.origin IS NULL) THEN ... END, ...
    """
    local = case((table.c.origin.is_(None), 0), else_=1)
    return (local, table.c.runs.desc(), table.c.measured_at.desc(), table.c.id.desc())


def best_rank(row: dict[str, Any]) -> tuple[Any, ...]:
    """The sort key of :func:`best_first` for a row in Python: higher is better."""
    return (row.get("origin") is None, row["runs"], utc(row["measured_at"]), row["id"])


# Columns a sample's identity is made of (not the row id, hashes or recorded_at).
_SAMPLE_IDENTITY = (*MEASUREMENT_COLUMNS, "extra")


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive times are taken as UTC.

    Example:
        >>> utc(datetime(2026, 1, 1, 12)).isoformat()
        '2026-01-01T12:00:00+00:00'
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def json_safe(value: Any) -> Any:
    """A copy that strict JSON accepts: non-finite floats become None, tuples lists.

    PostgreSQL's JSONB rejects NaN, so values are cleaned the same way on
    every backend.

    Example:
        >>> json_safe({"a": float("nan"), "b": (1, 2.5)})
        {'a': None, 'b': [1, 2.5]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def key_sha256(fingerprint: str, key: MeasurementKey) -> str:
    """Hash of a measurement's cache key, for one indexed lookup.

    The deploy shape is hashed only when it is not the default, so rows
    stored before shapes were keyed keep their hash and read as
    224x224x3/1000; any other shape gets a key of its own.

    Example:
        >>> k = MeasurementKey("host", "lce-interpreter", "0.16.0", 1, {})
        >>> key_sha256("ab" * 32, k) == key_sha256("ab" * 32, k)
        True
    """
    identity = {
        "fingerprint": fingerprint,
        "device": key.device,
        "engine": key.engine,
        "engine_version": key.engine_version,
        "threads": int(key.threads),
        "kernel_options": json_safe(key.kernel_options),
    }
    if key.deploy_shape != DEFAULT_DEPLOY_SHAPE:
        identity["deploy_shape"] = key.deploy_shape
    return sha256_hex(identity)


def sample_sha256(row: dict[str, Any]) -> str:
    """Hash of everything a measurement row says, to recognise it in another database."""
    identity = {name: row[name] for name in _SAMPLE_IDENTITY}
    identity["measured_at"] = utc(identity["measured_at"]).isoformat()
    return sha256_hex(identity)


def measurement_row(m: Measurement, recorded_at: datetime | None = None) -> dict[str, Any]:
    """The ``latency_measurements`` row for a measurement (without its id)."""
    if not m.fingerprint:
        raise ValueError("a measurement needs a fingerprint to be stored")
    data = m.to_dict()
    row = {name: data.pop(name) for name in MEASUREMENT_COLUMNS}
    row["measured_at"] = utc(m.measured_at)
    # Same types as an import would give, so the sample hash matches across databases.
    for name in ("threads", "runs", "warmup_runs"):
        row[name] = int(row[name])
    for name in ("median_ms", "p10_ms", "p90_ms", "mean_ms", "std_ms"):
        row[name] = float(row[name])
    row["samples_ms"] = [float(s) for s in row["samples_ms"]]
    cv = row["cv"]
    row["cv"] = float(cv) if cv is not None and math.isfinite(cv) else None
    for name in ("kernel_options", "samples_ms", "op_profile", "breakdown_ms", "host_facts"):
        row[name] = json_safe(row[name])
    if data.get("deploy_shape") == DEFAULT_DEPLOY_SHAPE:
        del data["deploy_shape"]  # rows of the default shape stay as they were written before
    row["extra"] = json_safe(data)
    return finish_measurement_row(row, recorded_at or now())


def row_key(row: Any) -> MeasurementKey:
    """The key of a ``latency_measurements`` row (a mapping with the key columns and ``extra``)."""
    # The deploy shape lives in ``extra`` (no column): absent on older rows.
    return MeasurementKey(
        row["device"],
        row["engine"],
        row["engine_version"],
        row["threads"],
        row["kernel_options"],
        (row.get("extra") or {}).get("deploy_shape", DEFAULT_DEPLOY_SHAPE),
    )


def finish_measurement_row(row: dict[str, Any], recorded_at: datetime) -> dict[str, Any]:
    """Add the derived columns (key and sample hashes) and the recording time."""
    row = dict(row)
    key = row_key(row)
    row["key_sha256"] = key_sha256(row["fingerprint"], key)
    row["sample_sha256"] = sample_sha256(row)
    row.setdefault("recorded_at", recorded_at)
    return row


def measurement_from_row(row: Any) -> Measurement:
    """Rebuild a :class:`Measurement` from a ``latency_measurements`` row."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    known = {f.name for f in dataclasses.fields(Measurement)}
    # Fields written by a newer lce-nas that this one does not have are dropped.
    data = {k: v for k, v in (mapping["extra"] or {}).items() if k in known}
    data.update({name: mapping[name] for name in MEASUREMENT_COLUMNS})
    data["measured_at"] = utc(mapping["measured_at"]).isoformat()
    if data["cv"] is None:
        data["cv"] = math.nan
    return Measurement.from_dict(data)


@dataclass
class AccuracyEvaluation:
    """Proxy accuracy of one architecture on one dataset with given proxy settings.

    The cache key is (fingerprint, dataset, :attr:`proxy_settings_hash`).

    Example:
        >>> ev = AccuracyEvaluation("ab" * 32, "fashion-mnist", {"epochs": 1}, top1=0.62)
        >>> len(ev.proxy_settings_hash)
        64
    """

    fingerprint: str
    dataset: str
    proxy_settings: dict[str, Any]
    top1: float
    loss: float | None = None
    epochs: int = 0
    seed: int | None = None
    train_seconds: float = 0.0
    evaluated_at: datetime = field(default_factory=now)

    @property
    def proxy_settings_hash(self) -> str:
        """sha256 of the canonical JSON of the proxy settings."""
        return sha256_hex(json_safe(self.proxy_settings))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (timestamp as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["evaluated_at"] = utc(self.evaluated_at).isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyEvaluation:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        if isinstance(data.get("evaluated_at"), str):
            data["evaluated_at"] = datetime.fromisoformat(data["evaluated_at"])
        return cls(**data)


def accuracy_row(ev: AccuracyEvaluation) -> dict[str, Any]:
    """The ``accuracy_evaluations`` row for an evaluation (without its id)."""
    loss = ev.loss if ev.loss is not None and math.isfinite(ev.loss) else None
    return {
        "fingerprint": ev.fingerprint,
        "dataset": ev.dataset,
        "proxy_settings": json_safe(ev.proxy_settings),
        "proxy_settings_hash": ev.proxy_settings_hash,
        "top1": float(ev.top1),
        "loss": None if loss is None else float(loss),
        "epochs": int(ev.epochs),
        "seed": None if ev.seed is None else int(ev.seed),
        "train_seconds": float(ev.train_seconds),
        "evaluated_at": utc(ev.evaluated_at),
    }


def accuracy_from_row(row: Any) -> AccuracyEvaluation:
    """Rebuild an :class:`AccuracyEvaluation` from its row."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return AccuracyEvaluation(
        fingerprint=mapping["fingerprint"],
        dataset=mapping["dataset"],
        proxy_settings=mapping["proxy_settings"],
        top1=mapping["top1"],
        loss=mapping["loss"],
        epochs=mapping["epochs"],
        seed=mapping["seed"],
        train_seconds=mapping["train_seconds"],
        evaluated_at=utc(mapping["evaluated_at"]),
    )
