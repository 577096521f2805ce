"""JSON shapes of studies, trials and fronts: what the API returns and the pages draw.

A search stores its results in Optuna's records (values, user attributes,
constraints; see the README's "What a search stores"). These functions turn
them into flat rows, the feasible Pareto front and the hypervolume history.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import optuna
from lce_nas.search.pareto import dominates, hypervolume, hypervolume_history, pareto_front
from optuna.trial import FrozenTrial, TrialState

META_KEY = "lce_nas"


def study_meta(study: optuna.study.FrozenStudy) -> dict[str, Any]:
    """The lce-nas metadata of a study (empty for studies not made by lce-nas)."""
    meta = study.user_attrs.get(META_KEY)
    return dict(meta) if isinstance(meta, dict) else {}


def is_feasible(trial: FrozenTrial) -> bool:
    """A completed trial's feasibility: its ``feasible`` attribute, else its constraints."""
    stored = trial.user_attrs.get("feasible")
    if isinstance(stored, bool):
        return stored
    return all(value <= 0 for value in trial.constraints.values())


def point(trial: FrozenTrial) -> tuple[float, float] | None:
    """(accuracy, latency ms) of a completed trial with two finite values, else None."""
    if trial.state != TrialState.COMPLETE or not trial.values or len(trial.values) < 2:
        return None
    accuracy, latency = trial.values[0], trial.values[1]
    if not (math.isfinite(accuracy) and math.isfinite(latency)):
        return None
    return (float(accuracy), float(latency))


def config_summary(config: dict[str, Any] | None) -> str:
    """One line for a QuickNet-like config (other spaces: their keys and values).

    Example:
        >>> config_summary({"section_blocks": [4, 4, 4, 4], "section_filters": [32, 64, 256, 512],
        ...                 "stem_filters": 8, "transition": "blurpool", "kernel_size": 3,
        ...                 "activation": "relu"})
        'blocks 4-4-4-4, filters 32-64-256-512, stem 8, blurpool, k3, relu'
    """
    if not config:
        return ""
    if "section_blocks" in config and "section_filters" in config:
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
    return ", ".join(f"{k} {v}" for k, v in sorted(config.items()))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def trial_row(
    trial: FrozenTrial, on_front: bool = False, dominates_presets: list[str] | None = None
) -> dict[str, Any]:
    """A trial as one flat JSON row (the trial table's and the scatter's data)."""
    attrs = trial.user_attrs
    latency = attrs.get("latency") if isinstance(attrs.get("latency"), dict) else {}
    accuracy = attrs.get("accuracy") if isinstance(attrs.get("accuracy"), dict) else None
    summary = attrs.get("summary") if isinstance(attrs.get("summary"), dict) else {}
    xy = point(trial)
    completed = trial.state == TrialState.COMPLETE
    duration = None
    if trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return {
        "number": trial.number,
        "state": trial.state.name,
        "feasible": is_feasible(trial) if completed else None,
        "on_front": on_front,
        "dominates_presets": dominates_presets or [],
        "trained": accuracy is not None,
        "accuracy": xy[0] if xy else _finite((accuracy or {}).get("top1")),
        "latency_ms": xy[1] if xy else _finite(latency.get("median_ms")),
        "latency_p10_ms": _finite(latency.get("p10_ms")),
        "latency_p90_ms": _finite(latency.get("p90_ms")),
        "latency_runs": latency.get("runs"),
        "measurement_id": latency.get("measurement_id"),
        "fingerprint": attrs.get("fingerprint"),
        "preset": attrs.get("preset"),
        "config": attrs.get("config"),
        "config_summary": config_summary(attrs.get("config")),
        "parameters": summary.get("parameters"),
        "binary_macs": summary.get("binary_macs"),
        "float_macs": summary.get("float_macs"),
        "packed_bytes": summary.get("packed_bytes"),
        "constraints": dict(trial.constraints),
        "cached": attrs.get("cached"),
        "failure": attrs.get("failure"),
        "started_at": _iso(trial.datetime_start),
        "completed_at": _iso(trial.datetime_complete),
        "duration_s": duration,
    }


def dominated_presets(trials: list[FrozenTrial]) -> dict[int, list[str]]:
    """For each completed, feasible trial, the presets of the study it dominates."""
    presets = [
        (t.user_attrs["preset"], point(t))
        for t in trials
        if t.user_attrs.get("preset") and point(t) is not None
    ]
    result: dict[int, list[str]] = {}
    for t in trials:
        mine = point(t)
        if mine is None or not is_feasible(t):
            continue
        result[t.number] = sorted(
            {name for name, p in presets if p is not None and dominates(mine, p)}
        )
    return result


def front_numbers(trials: list[FrozenTrial]) -> list[int]:
    """Numbers of the trials on the feasible Pareto front, fastest first.

    Equal points (the same architecture proposed twice) count once: the first trial.
    """
    candidates = [t for t in trials if point(t) is not None and is_feasible(t)]
    points = [point(t) for t in candidates]
    return [candidates[i].number for i in pareto_front(points)]  # type: ignore[arg-type]


def reference_point(meta: dict[str, Any], trials: list[FrozenTrial]) -> dict[str, Any]:
    """The study's stored hypervolume reference, or a stand-in marked ``stored: false``.

    Without a stored one: accuracy 0 and twice the slowest completed latency,
    which moves as the search goes on (so values are only comparable within
    one page view).
    """
    stored = meta.get("reference_point")
    if isinstance(stored, dict) and _finite(stored.get("latency_ms")) is not None:
        return {
            "accuracy": float(stored.get("accuracy") or 0.0),
            "latency_ms": float(stored["latency_ms"]),
            "stored": True,
        }
    latencies = [p[1] for p in (point(t) for t in trials) if p is not None]
    return {
        "accuracy": 0.0,
        "latency_ms": 2.0 * max(latencies) if latencies else None,
        "stored": False,
    }


def front(study: optuna.study.FrozenStudy, trials: list[FrozenTrial]) -> dict[str, Any]:
    """The feasible front, its hypervolume and the reference point it is measured from."""
    numbers = front_numbers(trials)
    by_number = {t.number: t for t in trials}
    ref = reference_point(study_meta(study), trials)
    points = [point(by_number[n]) for n in numbers]
    volume = None
    if ref["latency_ms"] is not None:
        volume = hypervolume(points, (ref["accuracy"], ref["latency_ms"]))  # type: ignore[arg-type]
    beats = dominated_presets(trials)
    return {
        "study": study.study_name,
        "trials": [trial_row(by_number[n], True, beats.get(n)) for n in numbers],
        "hypervolume": volume,
        "reference_point": ref,
    }


def hypervolume_over_trials(
    study: optuna.study.FrozenStudy, trials: list[FrozenTrial]
) -> list[dict[str, Any]]:
    """The hypervolume after each completed trial, in the order trials completed."""
    ref = reference_point(study_meta(study), trials)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    done.sort(key=lambda t: (t.datetime_complete or datetime.max, t.number))
    if ref["latency_ms"] is None or not done:
        return []
    points = [point(t) if is_feasible(t) else None for t in done]
    values = hypervolume_history(points, (ref["accuracy"], ref["latency_ms"]))
    return [
        {"number": t.number, "completed_at": _iso(t.datetime_complete), "hypervolume": v}
        for t, v in zip(done, values, strict=True)
    ]


def trial_rows(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    """Every trial of a study as a row, with its place on the front and the presets it beats."""
    on_front = set(front_numbers(trials))
    beats = dominated_presets(trials)
    return [trial_row(t, t.number in on_front, beats.get(t.number)) for t in trials]


def study_summary(
    study: optuna.study.FrozenStudy,
    trials: list[FrozenTrial],
    search: dict[str, Any] | None,
) -> dict[str, Any]:
    """One row of the studies page."""
    meta = study_meta(study)
    counts = {state.name: 0 for state in TrialState}
    for t in trials:
        counts[t.state.name] += 1
    moments = [m for t in trials for m in (t.datetime_start, t.datetime_complete) if m]
    shown_front = front(study, trials)
    key = meta.get("measurement_key") or {}
    return {
        "name": study.study_name,
        "space": meta.get("space"),
        "device": meta.get("device") or key.get("device"),
        "measurement_key": key or None,
        "dataset": meta.get("dataset"),
        "sampler": meta.get("sampler"),
        "constraints": meta.get("constraints"),
        "directions": [d.name.lower() for d in study.directions],
        "lce_nas": bool(meta),
        "trials": len(trials),
        "complete": counts["COMPLETE"],
        "failed": counts["FAIL"],
        "running": counts["RUNNING"],
        "waiting": counts["WAITING"],
        "infeasible": sum(
            1 for t in trials if t.state == TrialState.COMPLETE and not is_feasible(t)
        ),
        "front_size": len(shown_front["trials"]),
        "hypervolume": shown_front["hypervolume"],
        "reference_point": shown_front["reference_point"],
        "last_activity": _iso(max(moments)) if moments else None,
        "search_status": (search or {}).get("status"),
        "search_name": (search or {}).get("name"),
    }


def study_detail(
    study: optuna.study.FrozenStudy,
    trials: list[FrozenTrial],
    search: dict[str, Any] | None,
) -> dict[str, Any]:
    """A study's summary plus its metadata and presets (the study page's header)."""
    meta = study_meta(study)
    detail = study_summary(study, trials, search)
    detail["meta"] = meta
    detail["presets"] = meta.get("presets") or {}
    detail["search"] = search
    return detail
