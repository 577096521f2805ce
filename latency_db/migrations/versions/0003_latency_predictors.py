"""Fitted latency predictors, one per space and latency key (a cache of what the rows give).

Revision ID: 0003_latency_predictors
Revises: 0002_measurement_origin
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_latency_predictors"
down_revision = "0002_measurement_origin"
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "latency_predictors",
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("key", JSONType, nullable=False),
        sa.Column("training_sha256", sa.String(64), nullable=False),
        sa.Column("predictor", JSONType, nullable=False),
        sa.Column("fitted_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("space", "key_sha256", name="pk_latency_predictors"),
    )


def downgrade() -> None:
    op.drop_table("latency_predictors")
