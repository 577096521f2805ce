"""What the dashboard reads: one read-only connection, shared by the two read paths.

Studies and trials come through :class:`~lce_nas.search.reader.StudyReader`
(trial records straight from Optuna's tables, kept up to date
incrementally), measurements and searches through
:class:`~lce_nas.latency_db.reader.MeasurementReader`: the dashboard has no
SQL of its own.
"""

from __future__ import annotations

from lce_nas.latency_db.reader import MeasurementReader
from lce_nas.latency_db.readonly import readonly_engine, shown_url
from lce_nas.search.reader import StudyNotFound, StudyReader
from sqlalchemy.exc import SQLAlchemyError

from lce_nas.errors import UserError

__all__ = ["DashboardData", "StudyNotFound"]


class DashboardData:
    """Read-only access to a database that searches write.

    Example:
        >>> data = DashboardData("sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> [s.name for s in data.studies.studies()]  # doctest: +SKIP
        ['quicknet-host']
    """

    def __init__(self, url: str) -> None:
        """Open ``url`` for reading; a missing file or one that is not a database is a UserError."""
        self.url = url
        self.display_url = shown_url(url)
        self.engine = readonly_engine(url)
        try:
            with self.engine.connect() as conn:
                # A file that is not a database opens fine and fails on the first read.
                conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master LIMIT 1"
                    if self.engine.dialect.name == "sqlite"
                    else "SELECT 1"
                )
        except SQLAlchemyError as err:
            self.engine.dispose()
            raise UserError(f"cannot read database {self.display_url}: {_first_line(err)}") from err
        self.studies = StudyReader(url, self.engine)
        self.measurements = MeasurementReader(url, self.engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
