"""The latency database: SQLAlchemy models, Alembic migrations and the store API."""
