"""One trial record: what a trial of a search is, written and read in one place.

A search keeps its results in Optuna's own records (two objective values,
constraints) plus a few JSON user attributes. This module is the only code
that knows those attribute names: the loop writes a trial through
:func:`write_candidate`, :func:`write_result` and :func:`write_failure`, and
every reader (``lce-nas front``, hypervolume, export, the model card, the
dashboard) sees a trial as a :class:`TrialRecord`, built by
:func:`record_from_frozen` or by :mod:`lce_nas.search.reader` from the rows
of Optuna's tables.

Example:
    >>> record = TrialRecord(number=0, state="COMPLETE", values=(0.61, 14.2))
    >>> record.point, record.feasible
    ((0.61, 14.2), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

# User-attribute names of a trial, in one place.
FINGERPRINT = "fingerprint"
CONFIG = "config"
SUMMARY = "summary"
PRESET = "preset"
LATENCY = "latency"
ACCURACY = "accuracy"
FEASIBLE = "feasible"
CACHED = "cached"
FAILURE = "failure"
PREDICTION = "prediction"
INFEASIBLE = "infeasible"
#: Rung, rungs, top-1 and standard error of a multi-fidelity trial's highest rung
#: (small, so that the light read path can decide the front without the ladder).
FIDELITY = "fidelity"
#: Attributes a reader needs (the rest, if any, are kept in ``TrialRecord.extra``).
KNOWN_ATTRS = (
    FINGERPRINT, CONFIG, SUMMARY, PRESET, LATENCY, ACCURACY, FEASIBLE, CACHED, FAILURE,
    PREDICTION, INFEASIBLE, FIDELITY,
)  # fmt: skip
#: Trial states after which Optuna never changes a trial again.
FINISHED_STATES = ("COMPLETE", "FAIL", "PRUNED")
_LATENCY_FIELDS = ("median_ms", "p10_ms", "p90_ms", "mean_ms", "std_ms", "cv", "runs")
_ACCURACY_FIELDS = ("top1", "loss", "epochs", "train_seconds")


def finite(value: Any) -> float | None:
    """``value`` as a float where it is a finite number, else None (JSON has no inf).

    Example:
        >>> finite(2), finite(float("inf")), finite("x"), finite(True)
        (2.0, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class TrialRecord:
    """A trial of a search: its candidate, results, constraints and fate.

    ``values`` are Optuna's objective values (accuracy, latency ms) for a
    completed trial; ``latency`` and ``accuracy`` are the stored result
    attributes (``latency`` carries ``measurement_id`` and the spread,
    ``accuracy`` the proxy's ``top1``, ``loss``, ``epochs``, ``train_seconds``).
    """

    number: int
    state: str
    values: tuple[float, ...] | None = None
    fingerprint: str | None = None
    config: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    latency: dict[str, Any] | None = None
    accuracy: dict[str, Any] | None = None
    feasible_attr: bool | None = None
    cached: dict[str, Any] | None = None
    failure: str | None = None
    #: The latency predictor's estimate before the candidate was converted, if any.
    prediction: dict[str, Any] | None = None
    #: Why a finished candidate is infeasible (e.g. ``predicted 171.0 ms > limit 62.0 ms``).
    infeasible: str | None = None
    constraints: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: The ``fidelity`` attribute (None for single-fidelity trials: their one rung is the top).
    fidelity: dict[str, Any] | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether Optuna will never change this trial again."""
        return self.state in FINISHED_STATES

    @property
    def rung(self) -> int | None:
        """The highest rung the trial's training reached (None: single fidelity)."""
        value = (self.fidelity or {}).get("rung")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def at_top(self) -> bool:
        """Whether the trial's accuracy is from the top rung (always, with one rung).

        Example:
            >>> TrialRecord(0, "COMPLETE", (0.5, 9.0), fidelity={"rung": 0, "rungs": 3}).at_top
            False
        """
        rungs = (self.fidelity or {}).get("rungs")
        return self.rung is None or not isinstance(rungs, int) or self.rung >= rungs - 1

    @property
    def ladder(self) -> list[dict[str, Any]]:
        """A multi-fidelity trial's accuracy per rung reached, lowest first (else empty).

        Example:
            >>> TrialRecord(0, "COMPLETE", accuracy={"ladder": [{"rung": 0, "top1": 0.4}]}).ladder
            [{'rung': 0, 'top1': 0.4}]
        """
        rows = (self.accuracy or {}).get("ladder")
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    @property
    def accuracy_stderr(self) -> float | None:
        """Standard error of the accuracy over its seeds (None with one seed)."""
        return finite((self.fidelity or {}).get("stderr"))

    @cached_property
    def point(self) -> tuple[float, float] | None:
        """(accuracy, latency ms) of a completed trial with two finite values, else None.

        A multi-fidelity trial tells Optuna its rung-0 accuracy (the one fidelity
        every trial has); its point's accuracy is that of the highest rung it reached.
        """
        if self.state != "COMPLETE" or not self.values or len(self.values) < 2:
            return None
        accuracy, latency = finite(self.values[0]), finite(self.values[1])
        if self.rung is not None:
            accuracy = finite((self.fidelity or {}).get("top1"))
        if accuracy is None or latency is None:
            return None
        return (accuracy, latency)

    @cached_property
    def feasible(self) -> bool:
        """Completed with finite values, within every constraint, and not marked infeasible.

        The loop marks every trial it finishes (``feasible`` False for a
        candidate over a size or latency limit, which has no real accuracy);
        a study not made by lce-nas has no mark, and its constraints decide.
        """
        return (
            self.point is not None
            and self.feasible_attr is not False
            and all(value <= 0 for value in self.constraints.values())
        )

    @property
    def contender(self) -> bool:
        """Feasible, with a top-rung accuracy: what may stand on the front.

        A candidate stopped at a lower rung keeps its ladder, but an accuracy of a
        cheaper fidelity is not comparable with the front's.
        """
        return self.feasible and self.at_top

    @property
    def median_ms(self) -> float | None:
        """The measured median latency, where the candidate was timed."""
        point = self.point
        if point is not None:
            return point[1]
        return finite((self.latency or {}).get("median_ms"))

    @property
    def top1(self) -> float | None:
        """The proxy accuracy, where the candidate was trained."""
        point = self.point
        if point is not None and self.accuracy is not None:
            return point[0]
        return finite((self.accuracy or {}).get("top1"))

    @property
    def measurement_id(self) -> int | None:
        """Id of the latency measurement the trial was told (local to one database)."""
        value = (self.latency or {}).get("measurement_id")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def to_json(
        self,
        on_front: bool = False,
        dominates_presets: list[str] | None = None,
        ties_presets: list[str] | None = None,
    ) -> dict[str, Any]:
        """The trial as one flat JSON row: the front table's, the dashboard's and the CSV's.

        Example:
            >>> TrialRecord(3, "FAIL", failure="timing failed: x").to_json()["failure"]
            'timing failed: x'
        """
        return {
            "number": self.number,
            "state": self.state,
            "feasible": self.feasible if self.state == "COMPLETE" else None,
            "on_front": on_front,
            "dominates_presets": list(dominates_presets or []),
            "ties_presets": list(ties_presets or []),
            **self._own_row,
        }

    @cached_property
    def _own_row(self) -> dict[str, Any]:
        # What the row holds of the trial alone, built once per record: a study's
        # table is rebuilt whenever the study changes, and only its front fields move.
        latency = self.latency or {}
        duration = None
        if self.started_at and self.completed_at:
            duration = (self.completed_at - self.started_at).total_seconds()
        return {
            "trained": self.accuracy is not None,
            # The front's accuracy: the value Optuna was told, or with several rungs the
            # highest rung's (0 for an untrained, infeasible trial: see "trained").
            "accuracy": self.point[0] if self.point is not None else self.top1,
            "accuracy_stderr": self.accuracy_stderr,
            "rung": self.rung,
            "rungs": (self.fidelity or {}).get("rungs"),
            "at_top": self.at_top,
            "ladder": self.ladder,
            "latency_ms": self.median_ms,
            "latency_p10_ms": finite(latency.get("p10_ms")),
            "latency_p90_ms": finite(latency.get("p90_ms")),
            "latency_runs": latency.get("runs"),
            "measurement_id": self.measurement_id,
            "fingerprint": self.fingerprint,
            "preset": self.preset,
            "config": self.config,
            "config_summary": config_summary(self.config),
            "parameters": self.summary.get("parameters"),
            "binary_macs": self.summary.get("binary_macs"),
            "float_macs": self.summary.get("float_macs"),
            "packed_bytes": self.summary.get("packed_bytes"),
            "constraints": dict(self.constraints),
            "cached": self.cached,
            "failure": self.failure,
            "predicted_ms": finite((self.prediction or {}).get("median_ms")),
            "predicted_low_ms": finite((self.prediction or {}).get("low_ms")),
            "predicted_high_ms": finite((self.prediction or {}).get("high_ms")),
            "infeasible_reason": self.infeasible,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "duration_s": duration,
        }


def record_from_attrs(
    number: int,
    state: str,
    values: tuple[float, ...] | None,
    user_attrs: dict[str, Any],
    constraints: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> TrialRecord:
    """A record from a trial's parts; attributes of the wrong type read as missing.

    Example:
        >>> record_from_attrs(1, "COMPLETE", (0.5, 9.0), {"preset": "quicknet"}).preset
        'quicknet'
    """

    def mapping(name: str) -> dict[str, Any] | None:
        value = user_attrs.get(name)
        return value if isinstance(value, dict) else None

    def text(name: str) -> str | None:
        value = user_attrs.get(name)
        return value if isinstance(value, str) else None

    feasible = user_attrs.get(FEASIBLE)
    return TrialRecord(
        number=number,
        state=state,
        values=tuple(values) if values else None,
        fingerprint=text(FINGERPRINT),
        config=mapping(CONFIG),
        summary=mapping(SUMMARY) or {},
        preset=text(PRESET),
        latency=mapping(LATENCY),
        accuracy=mapping(ACCURACY),
        feasible_attr=feasible if isinstance(feasible, bool) else None,
        cached=mapping(CACHED),
        failure=text(FAILURE),
        prediction=mapping(PREDICTION),
        infeasible=text(INFEASIBLE),
        constraints=dict(constraints or {}),
        params=dict(params or {}),
        fidelity=mapping(FIDELITY),
        started_at=started_at,
        completed_at=completed_at,
    )


def record_from_frozen(trial: Any) -> TrialRecord:
    """The record of an Optuna ``FrozenTrial``.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(directions=["maximize", "minimize"])
        >>> study.add_trial(optuna.trial.create_trial(values=[0.6, 12.0],
        ...     user_attrs={"fingerprint": "ab" * 32, "feasible": True}))
        >>> record_from_frozen(study.trials[0]).point
        (0.6, 12.0)
    """
    return record_from_attrs(
        trial.number,
        trial.state.name,
        tuple(trial.values) if trial.values else None,
        trial.user_attrs,
        trial.constraints if hasattr(trial, "constraints") else {},
        trial.params,
        trial.datetime_start,
        trial.datetime_complete,
    )


# -- writing: the loop's side -------------------------------------------------


def write_candidate(trial: Any, fingerprint: str, params: dict[str, Any], summary: Any) -> None:
    """Store what a proposed candidate is, before any work is done on it."""
    trial.set_user_attr(FINGERPRINT, fingerprint)
    trial.set_user_attr(CONFIG, params)
    trial.set_user_attr(SUMMARY, summary.to_dict())


def write_prediction(trial: Any, prediction: dict[str, Any]) -> None:
    """Store the latency predictor's estimate for a candidate, before it is converted."""
    trial.set_user_attr(PREDICTION, prediction)


def latency_attrs(measurement: Any, measurement_id: int | None) -> dict[str, Any]:
    """The ``latency`` attribute of a timed candidate (its distribution, not one number)."""
    attrs: dict[str, Any] = {"measurement_id": measurement_id}
    attrs.update({name: getattr(measurement, name) for name in _LATENCY_FIELDS})
    return attrs


def write_result(
    trial: Any,
    *,
    feasible: bool,
    cached: dict[str, bool],
    measurement: Any = None,
    measurement_id: int | None = None,
    evaluation: Any = None,
    infeasible: str | None = None,
    ladder: list[dict[str, Any]] | None = None,
) -> None:
    """Store a finished candidate's results (before Optuna is told its values).

    ``infeasible`` says why an infeasible candidate is (only where a reader cannot
    tell from its constraints alone, as for a predicted latency). ``ladder``: a
    multi-fidelity trial's result per rung (``RungResult.to_dict`` rows), kept
    in its accuracy attribute beside the highest rung's figures.
    """
    if infeasible is not None:
        trial.set_user_attr(INFEASIBLE, infeasible)
    if measurement is not None:
        trial.set_user_attr(LATENCY, latency_attrs(measurement, measurement_id))
    if evaluation is not None:
        accuracy = {name: getattr(evaluation, name) for name in _ACCURACY_FIELDS}
        if ladder:
            accuracy["ladder"] = ladder
        trial.set_user_attr(ACCURACY, accuracy)
    trial.set_user_attr(FEASIBLE, feasible)
    trial.set_user_attr(CACHED, cached)


def write_fidelity(trial: Any, result: Any, rungs: int) -> None:
    """Store the rung a multi-fidelity trial's accuracy is from (a ``RungResult``)."""
    trial.set_user_attr(
        FIDELITY,
        {"rung": result.rung, "rungs": rungs, "top1": result.top1, "stderr": result.stderr},
    )


def write_failure(study: Any, trial: Any, reason: str) -> None:
    """Store why a trial failed (works on a live ``Trial`` and on a stale ``FrozenTrial``)."""
    from optuna.trial import FrozenTrial

    # A FrozenTrial has set_user_attr too, but it only changes the copy in memory.
    if isinstance(trial, FrozenTrial):
        study._storage.set_trial_user_attr(trial._trial_id, FAILURE, reason)
    else:
        trial.set_user_attr(FAILURE, reason)


def config_summary(config: dict[str, Any] | None) -> str:
    """One line for a config: QuickNet-like keys first, other spaces key by key.

    Example:
        >>> config_summary({"section_blocks": [4, 4, 4, 4], "section_filters": [32, 64, 256, 512],
        ...                 "stem_filters": 8, "transition": "blurpool", "kernel_size": 3,
        ...                 "activation": "relu"})
        'blocks 4-4-4-4, filters 32-64-256-512, stem 8, blurpool, k3, relu'
    """
    if not config:
        return ""
    if "section_blocks" not in config or "section_filters" not in config:
        return ", ".join(f"{k} {v}" for k, v in sorted(config.items()))
    parts = [
        "blocks " + "-".join(map(str, config["section_blocks"])),
        "filters " + "-".join(map(str, config["section_filters"])),
    ]
    if "stem_filters" in config:
        parts.append(f"stem {config['stem_filters']}")
    if "transition" in config:
        parts.append(str(config["transition"]))
    if "kernel_size" in config:
        parts.append(f"k{config['kernel_size']}")
    if "activation" in config:
        parts.append(str(config["activation"]))
    return ", ".join(parts)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
