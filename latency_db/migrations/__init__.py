"""Alembic migrations of the latency database, applied when a store opens."""
