"""Tables of the latency database (SQLAlchemy 2.0 typed declarative).

Only plain columns and JSON: nothing is ever unpickled from the database.
The table names never collide with Optuna's (``studies``, ``trials``,
``version_info``, ``study_*``, ``trial_*``, ``alembic_version``), so an
Optuna study can live in the same database. The schema itself is created by
the Alembic migrations in ``migrations/``; these classes must match them.

Fingerprint columns hold either an architecture fingerprint (64 hex) or
``tflite:<sha256>`` for a bare model file. Measurements and accuracy
evaluations deliberately have no foreign key to ``architectures``: a bare
file has no architecture row, and measurements imported from another
database may arrive before (or without) their architecture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Alembic's version table for this schema (Optuna uses ``alembic_version``).
VERSION_TABLE = "lce_nas_alembic_version"

# Fingerprints are 64 hex characters, bare files "tflite:" + 64 hex.
FINGERPRINT = String(80)

# JSONB on PostgreSQL (indexable, compact); JSON text elsewhere.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")

# SQLite's rowid needs INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no timezone, so values are converted to UTC on the way in
    and tagged as UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Naive times in this project are UTC by convention.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # Read back the same way: SQLite returns naive times, PostgreSQL aware ones.
    process_result_value = process_bind_param


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (for future migrations)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Device(Base):
    """A device latencies are measured on (host, rpi4, ...)."""

    __tablename__ = "devices"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class Architecture(Base):
    """One architecture of a search space, keyed by its fingerprint."""

    __tablename__ = "architectures"

    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    space: Mapped[str] = mapped_column(String(64), index=True)
    space_version: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    parameters: Mapped[int] = mapped_column(BigInteger)
    binary_macs: Mapped[int] = mapped_column(BigInteger)
    float_macs: Mapped[int] = mapped_column(BigInteger)
    packed_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LatencyMeasurement(Base):
    """One timing session of one model on one device: a sample, never overwritten.

    ``key_sha256`` hashes the cache key (fingerprint, device, engine, engine
    version, threads, kernel options) so a lookup is one indexed equality;
    ``sample_sha256`` hashes the whole sample so an import can skip samples
    the database already holds.
    """

    __tablename__ = "latency_measurements"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, index=True)
    device: Mapped[str] = mapped_column(String(128), index=True)
    engine: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(64))
    threads: Mapped[int] = mapped_column(Integer)
    kernel_options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    sample_sha256: Mapped[str] = mapped_column(String(64), index=True)
    median_ms: Mapped[float] = mapped_column(Float)
    p10_ms: Mapped[float] = mapped_column(Float)
    p90_ms: Mapped[float] = mapped_column(Float)
    mean_ms: Mapped[float] = mapped_column(Float)
    std_ms: Mapped[float] = mapped_column(Float)
    # NULL when undefined (NaN): SQLite cannot store NaN.
    cv: Mapped[float | None] = mapped_column(Float, nullable=True)
    runs: Mapped[int] = mapped_column(Integer)
    warmup_runs: Mapped[int] = mapped_column(Integer)
    samples_ms: Mapped[list[float]] = mapped_column(JSONType)
    op_profile: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    breakdown_ms: Mapped[dict[str, float] | None] = mapped_column(JSONType, nullable=True)
    host_facts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    model_sha256: Mapped[str] = mapped_column(String(64))
    # Fields a newer Measurement may carry that have no column yet.
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # NULL: measured by this installation; else where an import brought it from.
    origin: Mapped[str | None] = mapped_column(String(512), nullable=True)


class AccuracyEvaluationRow(Base):
    """A proxy accuracy, unique per fingerprint, dataset and proxy settings."""

    __tablename__ = "accuracy_evaluations"
    __table_args__ = (UniqueConstraint("fingerprint", "dataset", "proxy_settings_hash"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    proxy_settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    proxy_settings_hash: Mapped[str] = mapped_column(String(64))
    top1: Mapped[float] = mapped_column(Float)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    epochs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    train_seconds: Mapped[float] = mapped_column(Float)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Search(Base):
    """A named search and the Optuna study that holds its trials."""

    __tablename__ = "searches"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512))
    space: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(128))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LatencyPredictorRow(Base):
    """A fitted latency predictor of one space and key, and the training set it was fitted on.

    Derived data: refitted whenever the measurements of its key change
    (``training_sha256``), and never exported.
    """

    __tablename__ = "latency_predictors"

    space: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[dict[str, Any]] = mapped_column(JSONType)
    training_sha256: Mapped[str] = mapped_column(String(64))
    predictor: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: Table name -> mapped class, in an order that imports and exports use.
TABLES: dict[str, type[Base]] = {
    "devices": Device,
    "architectures": Architecture,
    "latency_measurements": LatencyMeasurement,
    "accuracy_evaluations": AccuracyEvaluationRow,
    "searches": Search,
}

#: Core table handles, for the store's and the readers' queries (one per table, never copies).
DEVICES: Table = Device.__table__  # type: ignore[assignment]
ARCHITECTURES: Table = Architecture.__table__  # type: ignore[assignment]
MEASUREMENTS: Table = LatencyMeasurement.__table__  # type: ignore[assignment]
ACCURACIES: Table = AccuracyEvaluationRow.__table__  # type: ignore[assignment]
SEARCHES: Table = Search.__table__  # type: ignore[assignment]
PREDICTORS: Table = LatencyPredictorRow.__table__  # type: ignore[assignment]

__all__ = [
    "ACCURACIES",
    "ARCHITECTURES",
    "DEVICES",
    "MEASUREMENTS",
    "PREDICTORS",
    "SEARCHES",
    "TABLES",
    "VERSION_TABLE",
    "AccuracyEvaluationRow",
    "Architecture",
    "Base",
    "Device",
    "LatencyMeasurement",
    "LatencyPredictorRow",
    "Search",
]
