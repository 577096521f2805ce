"""Where each latency measurement came from: NULL for this installation's own.

Revision ID: 0002_measurement_origin
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_measurement_origin"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, so every row written before this revision reads as local.
    op.add_column("latency_measurements", sa.Column("origin", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("latency_measurements") as batch:
        batch.drop_column("origin")
