"""Alembic environment of the latency database.

The store runs migrations programmatically (see ``migrate.py``) and hands
over an open connection in ``config.attributes["connection"]``, already
inside the transaction that holds the schema lock. For developers writing a
new revision, ``alembic -c <ini> revision --autogenerate`` also works with a
``sqlalchemy.url`` in the ini file.
"""

from __future__ import annotations

from alembic import context
from lce_nas.latency_db.models import VERSION_TABLE, Base
from sqlalchemy import create_engine

config = context.config


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode copies tables.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # Optuna's tables share the database: never touch (or autogenerate
        # drops for) tables this schema does not own.
        include_name=lambda name, type_, parent: type_ != "table" or name in Base.metadata.tables,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
