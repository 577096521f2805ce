"""Initial schema: devices, architectures, measurements, accuracies, searches.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision: later
# changes to models.py must not change what this migration creates.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Fingerprint = sa.String(80)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("first_seen", Timestamp, nullable=False),
        sa.Column("last_seen", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_devices"),
    )
    op.create_table(
        "architectures",
        sa.Column("fingerprint", Fingerprint, nullable=False),
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("space_version", sa.String(32), nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("parameters", sa.BigInteger(), nullable=False),
        sa.Column("binary_macs", sa.BigInteger(), nullable=False),
        sa.Column("float_macs", sa.BigInteger(), nullable=False),
        sa.Column("packed_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_architectures"),
    )
    op.create_index("ix_architectures_space", "architectures", ["space"])
    op.create_table(
        "latency_measurements",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("fingerprint", Fingerprint, nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("kernel_options", JSONType, nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("sample_sha256", sa.String(64), nullable=False),
        sa.Column("median_ms", sa.Float(), nullable=False),
        sa.Column("p10_ms", sa.Float(), nullable=False),
        sa.Column("p90_ms", sa.Float(), nullable=False),
        sa.Column("mean_ms", sa.Float(), nullable=False),
        sa.Column("std_ms", sa.Float(), nullable=False),
        sa.Column("cv", sa.Float(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("warmup_runs", sa.Integer(), nullable=False),
        sa.Column("samples_ms", JSONType, nullable=False),
        sa.Column("op_profile", JSONType, nullable=True),
        sa.Column("breakdown_ms", JSONType, nullable=True),
        sa.Column("host_facts", JSONType, nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("extra", JSONType, nullable=False),
        sa.Column("measured_at", Timestamp, nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_latency_measurements"),
    )
    for column in ("fingerprint", "device", "key_sha256", "sample_sha256"):
        op.create_index(f"ix_latency_measurements_{column}", "latency_measurements", [column])
    op.create_table(
        "accuracy_evaluations",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("fingerprint", Fingerprint, nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("proxy_settings", JSONType, nullable=False),
        sa.Column("proxy_settings_hash", sa.String(64), nullable=False),
        sa.Column("top1", sa.Float(), nullable=False),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("train_seconds", sa.Float(), nullable=False),
        sa.Column("evaluated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accuracy_evaluations"),
        sa.UniqueConstraint(
            "fingerprint",
            "dataset",
            "proxy_settings_hash",
            name="uq_accuracy_evaluations_fingerprint_dataset_proxy_settings_hash",
        ),
    )
    op.create_index("ix_accuracy_evaluations_fingerprint", "accuracy_evaluations", ["fingerprint"])
    op.create_table(
        "searches",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("study_name", sa.String(512), nullable=False),
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("arguments", JSONType, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_searches"),
    )


def downgrade() -> None:
    for table in (
        "searches",
        "accuracy_evaluations",
        "latency_measurements",
        "architectures",
        "devices",
    ):
        op.drop_table(table)
