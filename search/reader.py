"""The read path to a study: trial records straight from Optuna's tables, kept up to date.

Optuna's ``RDBStorage.get_all_trials`` builds full ORM objects for every
trial, which at 10,000 trials takes seconds; a dashboard polling every few
seconds, or ``lce-nas front`` on a lab's database, needs less. A
:class:`StudyReader` reads the columns a :class:`TrialRecord` needs with a
few set-based SELECTs over Optuna's own table definitions
(``optuna.storages._rdb.models``), keeps finished trials (Optuna never
changes them again), and on the next read asks only for trials that are new
or were still running. Connections are read-only
(:mod:`lce_nas.latency_db.readonly`).

Example:
    >>> reader = StudyReader("sqlite:///lce-nas.db")  # doctest: +SKIP
    >>> study = reader.study("quicknet-host")  # doctest: +SKIP
    >>> front = reader.front(study)  # doctest: +SKIP
    >>> [row["number"] for row in front.rows()]  # doctest: +SKIP
    [4, 0, 7]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lce_nas.latency_db.readonly import has_tables, readonly_engine
from lce_nas.search.front import StudyFront, study_front
from lce_nas.search.record import (
    FEASIBLE,
    FIDELITY,
    FINISHED_STATES,
    KNOWN_ATTRS,
    PRESET,
    TrialRecord,
    record_from_attrs,
)
from lce_nas.search.study import META_KEY
from optuna.storages._rdb import models
from optuna.study._constrained_optimization import (
    _CONSTRAINTS_KEY,
    _get_constraints_from_system_attrs,
)
from sqlalchemy import Engine, and_, case, func, null, or_, select
from sqlalchemy.exc import SQLAlchemyError

from lce_nas.errors import UserError

_STUDIES = models.StudyModel.__table__
_DIRECTIONS = models.StudyDirectionModel.__table__
_STUDY_ATTRS = models.StudyUserAttributeModel.__table__
_STUDY_SYSTEM_ATTRS = models.StudySystemAttributeModel.__table__
# Where Optuna's Study.set_metric_names keeps the objectives' names.
_METRIC_NAMES = "study:metric_names"
_TRIALS = models.TrialModel.__table__
_VALUES = models.TrialValueModel.__table__
_USER_ATTRS = models.TrialUserAttributeModel.__table__
_SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
_PARAMS = models.TrialParamModel.__table__
#: Optuna's tables that must exist before there is any study to read.
OPTUNA_TABLES = ("studies", "trials", "version_info", "alembic_version")


class StudyNotFound(LookupError):
    """No study (or no trial) of that name or number in the database."""


@dataclass(frozen=True)
class StudyInfo:
    """A study's identity, directions and user attributes (lce-nas metadata under ``lce_nas``)."""

    study_id: int
    name: str
    directions: tuple[str, ...]
    user_attrs: dict[str, Any]
    metric_names: tuple[str, ...] | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The lce-nas metadata of the study (empty for studies lce-nas did not make)."""
        meta = self.user_attrs.get(META_KEY)
        return dict(meta) if isinstance(meta, dict) else {}


@dataclass
class _StudyCache:
    records: dict[int, TrialRecord] = field(default_factory=dict)
    open_ids: dict[int, int] = field(default_factory=dict)  # trial_id -> number, unfinished
    max_trial_id: int = 0
    marker: str | None = None
    front: StudyFront | None = None
    front_marker: str | None = None


class StudyReader:
    """Read-only, incremental access to the studies of one database.

    One reader per process is enough: it is thread-safe, and what it keeps
    (finished trials) never goes stale.
    """

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        """Open ``url`` read-only; a missing SQLite file is a :class:`UserError`."""
        self.url = url
        self.engine = engine or readonly_engine(url)
        self._caches: dict[int, _StudyCache] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # -- studies --------------------------------------------------------------------

    def has_studies_tables(self) -> bool:
        """Whether Optuna's tables exist yet (a fresh database has none)."""
        return has_tables(self.engine, *OPTUNA_TABLES)

    def studies(self) -> list[StudyInfo]:
        """Every study in the database, by name."""
        if not self.has_studies_tables():
            return []
        with self.engine.connect() as conn:
            names = {r.study_id: r.study_name for r in conn.execute(select(_STUDIES))}
            directions: dict[int, list[tuple[int, str]]] = {}
            for r in conn.execute(select(_DIRECTIONS)):
                directions.setdefault(r.study_id, []).append((r.objective, r.direction.name))
            attrs: dict[int, dict[str, Any]] = {}
            for r in conn.execute(select(_STUDY_ATTRS)):
                attrs.setdefault(r.study_id, {})[r.key] = _loads(r.value_json)
            metrics = {
                r.study_id: _loads(r.value_json)
                for r in conn.execute(
                    select(_STUDY_SYSTEM_ATTRS).where(_STUDY_SYSTEM_ATTRS.c.key == _METRIC_NAMES)
                )
            }
        infos = [
            StudyInfo(
                study_id,
                name,
                tuple(d.lower() for _, d in sorted(directions.get(study_id, []))),
                attrs.get(study_id, {}),
                tuple(metrics[study_id]) if isinstance(metrics.get(study_id), list) else None,
            )
            for study_id, name in names.items()
        ]
        return sorted(infos, key=lambda s: s.name)

    def study(self, name: str) -> StudyInfo:
        """The study named ``name``; :class:`StudyNotFound` if there is none."""
        for info in self.studies():
            if info.name == name:
                return info
        raise StudyNotFound(f"no study named {name!r}")

    # -- trials ---------------------------------------------------------------------

    def marker(self, study: StudyInfo) -> str:
        """A short digest that changes whenever anything a page shows of the study changes.

        Trials, their states and attributes only grow or finish (Optuna inserts
        attributes once per key in a search), so counts and the highest ids
        tell a change; the lce-nas metadata (the reference point) is hashed.
        """
        sid = study.study_id
        in_study = _TRIALS.c.study_id == sid
        with self.engine.connect() as conn:
            trials = conn.execute(
                select(
                    func.count(),
                    func.max(_TRIALS.c.trial_id),
                    func.sum(case((_TRIALS.c.state.in_(FINISHED_STATES), 1), else_=0)),
                ).where(in_study)
            ).one()
            attrs = conn.execute(
                select(func.count(), func.max(_USER_ATTRS.c.trial_user_attribute_id))
                .select_from(
                    _USER_ATTRS.join(_TRIALS, _TRIALS.c.trial_id == _USER_ATTRS.c.trial_id)
                )
                .where(in_study)
            ).one()
        digest = hashlib.sha256(
            json.dumps(
                [list(trials), list(attrs), study.user_attrs], sort_keys=True, default=str
            ).encode()
        )
        return digest.hexdigest()[:16]

    def records(self, study: StudyInfo) -> list[TrialRecord]:
        """Every trial of the study as a record, by number (new and unfinished ones re-read)."""
        with self._lock:
            cache = self._caches.setdefault(study.study_id, _StudyCache())
            self._refresh(study.study_id, cache)
            return [cache.records[n] for n in sorted(cache.records)]

    def front(self, study: StudyInfo) -> StudyFront:
        """The study's front, reference point and hypervolume history (cached until it changes)."""
        marker = self.marker(study)
        cache = self._caches.get(study.study_id)
        if cache is not None and cache.front is not None and cache.front_marker == marker:
            return cache.front
        records = self.records(study)
        front = study_front(study.name, study.meta, records)
        # Whoever reads a front in full shows its trial table next (a study page,
        # ``front --all``): its rows are built here, with the records, each record's
        # own part once in the record's life.
        front.table  # noqa: B018
        with self._lock:
            cache = self._caches[study.study_id]
            cache.front, cache.front_marker = front, marker
        return front

    def trial(self, study: StudyInfo, number: int) -> TrialRecord:
        """One trial's record; :class:`StudyNotFound` if the study has no such trial."""
        for record in self.records(study):
            if record.number == number:
                return record
        raise StudyNotFound(f"study {study.name!r} has no trial {number}")

    def trial_raw(self, study: StudyInfo, number: int) -> dict[str, Any]:
        """One trial as Optuna holds it: parameters (external form) and every user attribute."""
        from optuna.distributions import json_to_distribution

        one = and_(_TRIALS.c.study_id == study.study_id, _TRIALS.c.number == number)
        with self.engine.connect() as conn:
            params = _by_trial(
                conn,
                _PARAMS,
                one,
                _PARAMS.c.param_name,
                _PARAMS.c.param_value,
                _PARAMS.c.distribution_json,
            )
            attrs = _by_trial(conn, _USER_ATTRS, one, _USER_ATTRS.c.key, _USER_ATTRS.c.value_json)
        return {
            "params": {
                name: json_to_distribution(dist).to_external_repr(value)
                for rows in params.values()
                for name, value, dist in rows
            },
            "user_attrs": {key: _loads(text) for rows in attrs.values() for key, text in rows},
        }

    def _read_records(
        self, condition: Any, keys: tuple[str, ...], *, times: bool = True
    ) -> list[tuple[int, TrialRecord]]:
        """(trial id, record) of the trials ``condition`` selects, with user attributes ``keys``
        (and without start and completion times when ``times`` is False)."""
        moments = (
            (_TRIALS.c.datetime_start, _TRIALS.c.datetime_complete) if times else (null(), null())
        )
        try:
            with self.engine.connect() as conn, conn.begin():
                trials = conn.execute(
                    select(_TRIALS.c.trial_id, _TRIALS.c.number, _TRIALS.c.state, *moments).where(
                        condition
                    )
                ).all()
                if not trials:
                    return []
                values = _by_trial(
                    conn,
                    _VALUES,
                    condition,
                    _VALUES.c.objective,
                    _VALUES.c.value,
                    _VALUES.c.value_type,
                )
                attrs = _by_trial(
                    conn,
                    _USER_ATTRS,
                    condition,
                    _USER_ATTRS.c.key,
                    _USER_ATTRS.c.value_json,
                    extra=_USER_ATTRS.c.key.in_(keys),
                )
                system = _by_trial(
                    conn,
                    _SYSTEM_ATTRS,
                    condition,
                    _SYSTEM_ATTRS.c.key,
                    _SYSTEM_ATTRS.c.value_json,
                    extra=_SYSTEM_ATTRS.c.key.like(f"{_CONSTRAINTS_KEY}%"),
                )
        except SQLAlchemyError as err:
            raise UserError(f"cannot read the studies: {_first_line(err)}") from err
        return [
            (
                trial_id,
                record_from_attrs(
                    number,
                    state.name,
                    _values(values.get(trial_id, [])),
                    {key: _loads(text) for key, text in attrs.get(trial_id, [])},
                    _get_constraints_from_system_attrs(
                        {key: _loads(text) for key, text in system.get(trial_id, [])}
                    ),
                    started_at=_local(started),
                    completed_at=_local(completed),
                ),
            )
            for trial_id, number, state, started, completed in trials
        ]

    def front_only(self, study: StudyInfo) -> StudyFront:
        """The front as ``lce-nas front`` prints it, reading only the front's trials in full.

        Feasibility, dominance, the reference point and the hypervolume need
        each trial's state, values, constraints and two small attributes; the
        front's rows need everything, but only for the few trials on it (so
        ``rows(every_trial=True)`` of this front is refused: use :meth:`front`).
        """
        in_study = _TRIALS.c.study_id == study.study_id
        light = self._read_records(in_study, (FEASIBLE, PRESET, FIDELITY), times=False)
        front = study_front(study.name, study.meta, [r for _, r in light], history=False)
        if front.front:
            on_front = and_(in_study, _TRIALS.c.number.in_(front.front))
            full = {r.number: r for _, r in self._read_records(on_front, KNOWN_ATTRS)}
            front.records = [full.get(r.number, r) for r in front.records]
        front.every_record_complete = False
        return front

    def _refresh(self, study_id: int, cache: _StudyCache) -> None:
        wanted = _TRIALS.c.trial_id > cache.max_trial_id
        if cache.open_ids:
            wanted = or_(wanted, _TRIALS.c.trial_id.in_(list(cache.open_ids)))
        for trial_id, record in self._read_records(
            and_(_TRIALS.c.study_id == study_id, wanted), KNOWN_ATTRS
        ):
            number = record.number
            cache.records[number] = record
            cache.max_trial_id = max(cache.max_trial_id, trial_id)
            if record.finished:
                cache.open_ids.pop(trial_id, None)
            else:
                cache.open_ids[trial_id] = number


def _by_trial(conn, table, condition, *columns, extra=None) -> dict[int, list[tuple[Any, ...]]]:
    """Rows of a per-trial table for the selected trials, grouped by trial id."""
    query = (
        select(table.c.trial_id, *columns)
        .join(_TRIALS, _TRIALS.c.trial_id == table.c.trial_id)
        .where(condition)
    )
    if extra is not None:
        query = query.where(extra)
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    for row in conn.execute(query).all():
        grouped.setdefault(row[0], []).append(tuple(row[1:]))
    return grouped


def _values(rows: Iterable[tuple[Any, ...]]) -> tuple[float, ...] | None:
    ordered = sorted(rows)
    if not ordered:
        return None
    return tuple(
        models.TrialValueModel.stored_repr_to_value(value, kind) for _, value, kind in ordered
    )


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    # As Optuna's FrozenTrial shows them: stored naive UTC, shown naive local time.
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
