"""Reading a finished or running search: trial rows, the feasible front, hypervolume."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna
from lce_nas.search.pareto import dominates, hypervolume, hypervolume_history, pareto_front
from lce_nas.search.study import study_meta
from optuna.trial import FrozenTrial, TrialState


def is_feasible(trial: FrozenTrial) -> bool:
    """Completed, within every constraint, and trained (so it has a real accuracy)."""
    return (
        trial.state == TrialState.COMPLETE
        and trial.user_attrs.get("feasible", False)
        and all(v <= 0 for v in trial.constraints.values())
    )


def _point(trial: FrozenTrial) -> tuple[float, float]:
    return (float(trial.values[0]), float(trial.values[1]))


def feasible_points(study: optuna.Study) -> list[tuple[float, float]]:
    """(accuracy, latency) of every feasible completed trial, in trial order."""
    return [_point(t) for t in study.get_trials(deepcopy=False) if is_feasible(t)]


def study_reference_point(study: optuna.Study) -> tuple[float, float] | None:
    """The stored hypervolume reference point (accuracy, latency ms), once fixed."""
    ref = study_meta(study).get("reference_point")
    return None if ref is None else (ref["accuracy"], ref["latency_ms"])


def initial_reference_point(study: optuna.Study) -> dict[str, float] | None:
    """The reference point to fix for a study, or None while it cannot be fixed yet.

    Accuracy 0 (chance or worse adds nothing). Latency: the latency limit when
    the search has one; else twice the slowest QuickNet preset's median, as
    soon as every preset has been timed.
    """
    meta = study_meta(study)
    limit = (meta.get("constraints") or {}).get("max_latency_ms")
    if limit is not None:
        return {"accuracy": 0.0, "latency_ms": float(limit)}
    preset_latency = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        name = trial.user_attrs.get("preset")
        if name and math.isfinite(trial.values[1]):
            preset_latency[name] = trial.values[1]
    if not meta.get("presets") or set(preset_latency) != set(meta["presets"]):
        return None
    return {"accuracy": 0.0, "latency_ms": 2.0 * max(preset_latency.values())}


@dataclass
class FrontRow:
    """One trial of a study as the front table, the CSV and the dashboard show it."""

    number: int
    state: str
    preset: str | None
    fingerprint: str | None
    accuracy: float | None
    median_ms: float | None
    p10_ms: float | None
    p90_ms: float | None
    parameters: int | None
    binary_macs: int | None
    packed_bytes: int | None
    feasible: bool
    on_front: bool = False
    dominates_presets: list[str] = field(default_factory=list)
    failure: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class StudyResults:
    """A study's trials, its feasible front and hypervolume."""

    name: str
    meta: dict[str, Any]
    rows: list[FrontRow]
    reference_point: tuple[float, float] | None
    hypervolume: float | None
    hypervolume_history: list[float]

    @property
    def front(self) -> list[FrontRow]:
        """Front rows, fastest first."""
        return sorted((r for r in self.rows if r.on_front), key=lambda r: r.median_ms or 0.0)


def _row(trial: FrozenTrial) -> FrontRow:
    attrs = trial.user_attrs
    latency = attrs.get("latency") or {}
    summary = attrs.get("summary") or {}
    accuracy = (attrs.get("accuracy") or {}).get("top1")
    return FrontRow(
        number=trial.number,
        state=trial.state.name,
        preset=attrs.get("preset"),
        fingerprint=attrs.get("fingerprint"),
        accuracy=accuracy,
        median_ms=latency.get("median_ms"),
        p10_ms=latency.get("p10_ms"),
        p90_ms=latency.get("p90_ms"),
        parameters=summary.get("parameters"),
        binary_macs=summary.get("binary_macs"),
        packed_bytes=summary.get("packed_bytes"),
        feasible=is_feasible(trial),
        failure=attrs.get("failure"),
        config=attrs.get("config") or {},
    )


def study_results(study: optuna.Study) -> StudyResults:
    """Rows of every trial with front membership, preset dominance and hypervolume.

    Example:
        >>> study = optuna.load_study(study_name="s", storage=url)  # doctest: +SKIP
        >>> results = study_results(study)  # doctest: +SKIP
        >>> [row.number for row in results.front]  # doctest: +SKIP
        [4, 0, 7]
    """
    trials = study.get_trials(deepcopy=False)
    rows = [_row(t) for t in trials]
    feasible = [(row, _point(t)) for row, t in zip(rows, trials, strict=True) if row.feasible]
    for index in pareto_front([p for _, p in feasible]):
        feasible[index][0].on_front = True
    presets = {row.preset: p for row, p in feasible if row.preset}
    for row, point in feasible:
        row.dominates_presets = [name for name, q in presets.items() if dominates(point, q)]
    reference = study_reference_point(study)
    history: list[float] = []
    volume = None
    if reference is not None:
        ordered = [_point(t) if is_feasible(t) else None for t in trials]
        history = hypervolume_history(ordered, reference)
        volume = hypervolume([p for _, p in feasible], reference)
    return StudyResults(study.study_name, study_meta(study), rows, reference, volume, history)
