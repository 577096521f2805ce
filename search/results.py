"""Reading a finished or running search by name: its front, for the CLI and exports.

The rows, the front and the hypervolume are those of
:mod:`lce_nas.search.front`, read through :mod:`lce_nas.search.reader`:
the same code the dashboard answers with, so the two never disagree.
"""

from __future__ import annotations

from lce_nas.latency_db.connect import display_url
from lce_nas.search.front import StudyFront
from lce_nas.search.reader import StudyReader

from lce_nas.errors import UserError


def open_reader(url: str) -> StudyReader:
    """A read-only reader of the studies at ``url`` (a UserError if it cannot be read)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        reader = StudyReader(url)
        reader.has_studies_tables()
    except SQLAlchemyError as err:
        raise UserError(f"cannot open the database {display_url(url)}: {err}") from None
    return reader


def load_front(url: str, name: str, every_trial: bool = True) -> StudyFront:
    """The front of study ``name``; a UserError naming the studies there if it does not exist.

    ``every_trial=False`` reads in full only the trials on the front (what
    ``lce-nas front`` prints), which keeps it fast on studies of many trials.

    Example:
        >>> front = load_front("sqlite:///lce-nas.db", "quicknet-host")  # doctest: +SKIP
        >>> [row["number"] for row in front.rows()]  # doctest: +SKIP
        [4, 0, 7]
    """
    reader = open_reader(url)
    try:
        names = [s.name for s in reader.studies()]
        if name not in names:
            known = ", ".join(names) or "none"
            raise UserError(f"no study '{name}' in {display_url(url)} (studies: {known})")
        study = reader.study(name)
        return reader.front(study) if every_trial else reader.front_only(study)
    finally:
        reader.close()
