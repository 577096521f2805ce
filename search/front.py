"""A study's front from its trial records: feasibility, dominance, reference point, hypervolume.

Pure functions of a study's metadata and its :class:`TrialRecord` list, so
``lce-nas front``, export, the search loop and the dashboard compute one
front the same way. Everything here is O(n log n) in the number of trials.

Example:
    >>> from lce_nas.search.record import TrialRecord
    >>> records = [TrialRecord(0, "COMPLETE", (0.6, 10.0), preset="quicknet"),
    ...            TrialRecord(1, "COMPLETE", (0.7, 9.0))]
    >>> front = study_front("s", {"presets": {"quicknet": "ab"}}, records)
    >>> [r["number"] for r in front.rows()], front.reference_point
    ([1], {'accuracy': 0.0, 'latency_ms': 20.0, 'stored': False})
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from lce_nas.search.pareto import dominates, hypervolume, hypervolume_history, pareto_front
from lce_nas.search.record import TrialRecord, finite

#: The reference latency is this times the slowest preset's median (without a latency limit).
REFERENCE_FACTOR = 2.0
#: Standard errors of the accuracy difference a point must clear to beat a preset.
DOMINANCE_Z = 2.0


def front_numbers(records: Sequence[TrialRecord]) -> list[int]:
    """Numbers of the trials on the feasible Pareto front, fastest first.

    Only contenders stand on it: a trial stopped below the top rung does not.
    Equal points (the same architecture proposed twice) count once: the first trial.
    """
    contenders = [r for r in records if r.contender]
    return [contenders[i].number for i in pareto_front([r.point for r in contenders])]  # type: ignore[misc]


def accuracy_margin(a: TrialRecord, b: TrialRecord) -> float:
    """How much more accurate ``a`` must be than ``b`` to count as better: DOMINANCE_Z
    combined standard errors (0 where neither has one: one seed cannot tell its noise).

    Example:
        >>> a = TrialRecord(0, "COMPLETE", fidelity={"rung": 1, "rungs": 2, "stderr": 0.03})
        >>> b = TrialRecord(1, "COMPLETE", fidelity={"rung": 1, "rungs": 2, "stderr": 0.04})
        >>> round(accuracy_margin(a, b), 3)
        0.1
    """
    return DOMINANCE_Z * math.hypot(a.accuracy_stderr or 0.0, b.accuracy_stderr or 0.0)


def beats(a: TrialRecord, b: TrialRecord) -> bool | None:
    """Whether contender ``a`` dominates ``b`` beyond the accuracy's noise: True; None
    where it is no slower and their accuracies are within the margin (tied); else False.

    The test is a two-sided z-test on the difference of two means at about 95 %
    (|difference| > 2 standard errors of the difference), the latency compared as
    measured medians (its spread is far smaller than the proxy's).

    Example:
        >>> fast = TrialRecord(0, "COMPLETE", (0.62, 9.0), fidelity={"rung": 1, "rungs": 2,
        ...                    "top1": 0.62, "stderr": 0.02})
        >>> slow = TrialRecord(1, "COMPLETE", (0.60, 14.0), fidelity={"rung": 1, "rungs": 2,
        ...                    "top1": 0.60, "stderr": 0.02})
        >>> beats(fast, slow) is None
        True
    """
    (acc_a, ms_a), (acc_b, ms_b) = a.point, b.point  # type: ignore[misc]
    if ms_a > ms_b:
        return False
    margin = accuracy_margin(a, b)
    if margin == 0:
        return dominates((acc_a, ms_a), (acc_b, ms_b))
    if acc_a - acc_b > margin:
        return True
    return None if abs(acc_a - acc_b) <= margin else False


def preset_standing(
    records: Sequence[TrialRecord],
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """For each contender (feasible, top rung): the contending presets it dominates, and
    those it ties with (no slower, accuracies within the combined uncertainty).

    Only feasible presets count: a preset over a size or latency limit was
    never trained, so beating its placeholder accuracy means nothing.
    """
    presets = [r for r in records if r.preset and r.contender]
    dominated: dict[int, list[str]] = {}
    tied: dict[int, list[str]] = {}
    for record in records:
        if not record.contender:
            continue
        verdicts = {p.preset: beats(record, p) for p in presets if p.number != record.number}
        dominated[record.number] = sorted(n for n, v in verdicts.items() if v)  # type: ignore[misc]
        tied[record.number] = sorted(n for n, v in verdicts.items() if v is None)  # type: ignore[misc]
    return dominated, tied


def initial_reference_point(
    meta: dict[str, Any], records: Sequence[TrialRecord]
) -> dict[str, float] | None:
    """The hypervolume reference a study fixes once, or None while it cannot be fixed yet.

    Accuracy 0 (chance or worse adds nothing). Latency: the latency limit when
    the search has one; else twice the slowest timed preset's median, once
    every preset trial has finished. A preset ruled out untimed (over
    ``--max-size-mb``, or failed) cannot delay the reference forever; with no
    preset timed at all there is no reference, and no hypervolume.

    Example:
        >>> initial_reference_point({"constraints": {"max_latency_ms": 40}}, [])
        {'accuracy': 0.0, 'latency_ms': 40.0}
    """
    limit = finite((meta.get("constraints") or {}).get("max_latency_ms"))
    if limit is not None:
        return {"accuracy": 0.0, "latency_ms": limit}
    wanted = set(meta.get("presets") or {})
    if not wanted:
        return None
    by_preset: dict[str, list[TrialRecord]] = {name: [] for name in wanted}
    for record in records:
        if record.preset in by_preset:
            by_preset[record.preset].append(record)  # type: ignore[index]
    timed: list[float] = []
    for copies in by_preset.values():
        complete = [r for r in copies if r.state == "COMPLETE"]
        # An interrupted preset is queued again: it is settled only once a copy completes.
        if not complete and (not copies or not all(r.finished for r in copies)):
            return None
        timed.extend(r.median_ms for r in complete if r.median_ms is not None)
    if not timed:
        return None
    return {"accuracy": 0.0, "latency_ms": REFERENCE_FACTOR * max(timed)}


def reference_point(meta: dict[str, Any], records: Sequence[TrialRecord]) -> dict[str, Any] | None:
    """The study's reference point: the stored one, else the one the loop would store.

    ``stored`` says which; None while no reference can be fixed (then there is
    no hypervolume: a reference that moves would make values incomparable).
    """
    stored = meta.get("reference_point")
    if isinstance(stored, dict) and finite(stored.get("latency_ms")) is not None:
        accuracy = finite(stored.get("accuracy")) or 0.0
        return {"accuracy": accuracy, "latency_ms": float(stored["latency_ms"]), "stored": True}
    computed = initial_reference_point(meta, records)
    return None if computed is None else {**computed, "stored": False}


def completion_order(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Completed trials in the order they completed (ties by number)."""
    done = [r for r in records if r.state == "COMPLETE"]
    done.sort(key=lambda r: (_naive(r.completed_at), r.number))
    return done


@dataclass
class StudyFront:
    """A study's records with their front, preset dominance, reference and hypervolume."""

    name: str
    meta: dict[str, Any]
    records: list[TrialRecord]
    front: list[int]
    dominates: dict[int, list[str]]
    reference_point: dict[str, Any] | None
    hypervolume: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    #: For each contender, the presets it ties with (within the accuracy's uncertainty).
    ties: dict[int, list[str]] = field(default_factory=dict)
    #: False when only the front's records were read in full (``StudyReader.front_only``).
    every_record_complete: bool = True

    def rows(self, every_trial: bool = False) -> list[dict[str, Any]]:
        """JSON rows of the front (fastest first), or of every trial by number."""
        if every_trial:
            return self.table
        on_front = set(self.front)
        by_number = {r.number: r for r in self.records}
        return [self.row(by_number[n], on_front) for n in self.front]

    @cached_property
    def table(self) -> list[dict[str, Any]]:
        """Every trial's JSON row, by number (built once per front)."""
        if not self.every_record_complete:
            raise ValueError("this front read only its own trials in full")
        on_front = set(self.front)
        return [self.row(r, on_front) for r in sorted(self.records, key=lambda r: r.number)]

    def row(self, record: TrialRecord, on_front: set[int] | None = None) -> dict[str, Any]:
        """One trial's JSON row, with its place on the front and against the presets."""
        on_front = set(self.front) if on_front is None else on_front
        number = record.number
        return record.to_json(number in on_front, self.dominates.get(number), self.ties.get(number))

    def front_records(self) -> list[TrialRecord]:
        """The records on the front, fastest first."""
        by_number = {r.number: r for r in self.records}
        return [by_number[n] for n in self.front]

    def to_json(self, every_trial: bool = False) -> dict[str, Any]:
        """What ``lce-nas front --json`` prints and the dashboard's front API returns."""
        return {
            "study": self.name,
            "trials": self.rows(every_trial),
            "hypervolume": self.hypervolume,
            "reference_point": self.reference_point,
        }


def study_front(
    name: str, meta: dict[str, Any], records: Sequence[TrialRecord], *, history: bool = True
) -> StudyFront:
    """Front, dominance, reference point and hypervolume (with its history unless
    ``history=False``: the final volume does not depend on completion times)."""
    records = sorted(records, key=lambda r: r.number)
    numbers = front_numbers(records)
    reference = reference_point(meta, records)
    volume = None
    steps: list[dict[str, Any]] = []
    if reference is not None:
        box = (reference["accuracy"], reference["latency_ms"])
        # The final volume from all points at once: the same figure with or without
        # the history, whichever order the trials completed in.
        volume = hypervolume([r.point for r in records if r.contender], box)
    if reference is not None and history:
        done = completion_order(records)
        values = hypervolume_history([r.point if r.contender else None for r in done], box)
        steps = [
            {"number": r.number, "completed_at": _iso(r.completed_at), "hypervolume": v}
            for r, v in zip(done, values, strict=True)
        ]
    dominated, tied = preset_standing(records)
    return StudyFront(
        name, dict(meta), records, numbers, dominated, reference, volume, steps, ties=tied
    )


def _naive(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.max
    return moment.replace(tzinfo=None)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
