"""Alembic migrations of the latency database, applied when a store opens.

No alembic.ini is needed at run time (see ``migrate.py``). To write a new
revision after changing ``models.py``, point a throwaway ini at a database
that is at head and let Alembic compare::

    [alembic]
    script_location = latency_db/migrations
    sqlalchemy.url = sqlite:///dev.db

    alembic -c dev.ini check                         # no drift expected before
    alembic -c dev.ini revision --autogenerate -m "what changed" --rev-id 0002

Keep revision ids short and ordered (0001, 0002, ...); a database stamped
with an id this code does not ship is refused as too new.
"""
