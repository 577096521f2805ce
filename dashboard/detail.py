"""One trial in full: config, latency distribution, breakdown, per-op profile, exports."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import optuna
from lce_nas.dashboard.data import DashboardData
from lce_nas.dashboard.views import dominated_presets, study_meta, trial_row
from optuna.trial import FrozenTrial

#: The LCE paper's latency groups, in the order the stacked bar draws them.
CATEGORIES = ("first_layer", "binary_conv", "glue", "last_layer")
CATEGORY_LABELS = {
    "first_layer": "first layer",
    "binary_conv": "binary convolutions",
    "glue": "glue",
    "last_layer": "last layer",
}
#: Files ``lce-nas export`` writes per model, as offered for download.
EXPORT_FILES = ("model.tflite", "model_card.json", "model.h5", "model.keras")


def export_folder(
    exports: Path | None, study: str, number: int, fingerprint: str | None
) -> Path | None:
    """The folder ``lce-nas export`` wrote for a trial: ``EXPORTS/<study>/<number>-<fp[:12]>``.

    The number may be zero-padded (``0003-...``). A study name that would
    lead outside ``exports`` (``..``, slashes) finds nothing.

    Example:
        >>> export_folder(Path("exports"), "s", 3, "ab" * 32)  # doctest: +SKIP
        PosixPath('/home/me/exports/s/0003-abababababab')
    """
    if exports is None or not fingerprint:
        return None
    root = exports.resolve()
    study_dir = (root / study).resolve()
    if study_dir.parent != root or not study_dir.is_dir():
        return None
    for name in (f"{number:04d}-{fingerprint[:12]}", f"{number}-{fingerprint[:12]}"):
        folder = study_dir / name
        if folder.is_dir():
            return folder
    return None


def exported_files(folder: Path | None) -> list[dict[str, Any]]:
    """The downloadable files of an export folder, with their sizes."""
    if folder is None:
        return []
    files = []
    for name in EXPORT_FILES:
        path = folder / name
        if path.is_file():
            files.append({"name": name, "bytes": path.stat().st_size})
    return files


def breakdown(measurement: dict[str, Any] | None) -> dict[str, Any] | None:
    """Milliseconds per category, from the stored breakdown or the classified op profile.

    ``total_ms`` is the profile's sum; profiling overhead makes it differ
    from the median latency, so both are shown.
    """
    if not measurement:
        return None
    stored = measurement.get("breakdown_ms")
    if not stored and measurement.get("op_profile"):
        stored = {}
        for op in measurement["op_profile"]:
            category = op.get("category") or "glue"
            stored[category] = stored.get(category, 0.0) + float(op.get("avg_ms") or 0.0)
    if not stored:
        return None
    values = {c: float(stored.get(c) or 0.0) for c in CATEGORIES}
    return {
        "categories": [
            {"category": c, "label": CATEGORY_LABELS[c], "ms": values[c]} for c in CATEGORIES
        ],
        "total_ms": sum(values.values()),
    }


def measurement_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A measurement row as JSON for the trial page (the key, spread, samples, profile)."""
    if row is None:
        return None
    keep = (
        "id",
        "fingerprint",
        "device",
        "engine",
        "engine_version",
        "threads",
        "kernel_options",
        "median_ms",
        "p10_ms",
        "p90_ms",
        "mean_ms",
        "std_ms",
        "cv",
        "runs",
        "warmup_runs",
        "samples_ms",
        "op_profile",
        "host_facts",
        "model_sha256",
    )
    data = {name: row.get(name) for name in keep}
    for name in ("cv", "std_ms"):
        value = data.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            data[name] = None
    moment = row.get("measured_at")
    data["measured_at"] = moment.isoformat() if moment is not None else None
    data["breakdown"] = breakdown(row)
    return data


def find_measurement(
    data: DashboardData, study: optuna.study.FrozenStudy, trial: FrozenTrial
) -> dict[str, Any] | None:
    """The trial's measurement: by its stored id, else by fingerprint and the study's key."""
    latency = trial.user_attrs.get("latency")
    fingerprint = trial.user_attrs.get("fingerprint")
    if isinstance(latency, dict) and latency.get("measurement_id") is not None:
        row = data.measurement(int(latency["measurement_id"]))
        # Ids are per database: after an import the id may name another model's row.
        if row is not None and (fingerprint is None or row["fingerprint"] == fingerprint):
            return row
    key = study_meta(study).get("measurement_key")
    if fingerprint and isinstance(key, dict):
        return data.best_measurement(fingerprint, key)
    return None


def profile_for(
    data: DashboardData, trial: FrozenTrial, measurement: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Where the trial's time goes: its own measurement's profile, else another one's.

    A search times with the engine of its latency key, which may not profile
    (LCE's interpreter on the host); a profiled measurement of the same model
    on the same device (e.g. ``lce-nas bench --engine native --profile``)
    still shows where the time goes, marked ``same_key: false``.
    """
    fingerprint = trial.user_attrs.get("fingerprint")
    source = measurement if measurement and breakdown(measurement) else None
    if source is None and fingerprint and measurement:
        source = data.profiled_measurement(fingerprint, measurement["device"])
    if source is None:
        return None
    same = measurement is not None and source["id"] == measurement["id"]
    return {
        "measurement_id": source["id"],
        "same_key": same,
        "engine": source["engine"],
        "engine_version": source["engine_version"],
        "threads": source["threads"],
        "kernel_options": source["kernel_options"],
        "breakdown": breakdown(source),
        "op_profile": source.get("op_profile"),
    }


def preset_breakdowns(
    data: DashboardData, study: optuna.study.FrozenStudy, trials: list[FrozenTrial]
) -> list[dict[str, Any]]:
    """The latency breakdown of each preset of the study (its first measured trial)."""
    found: dict[str, dict[str, Any]] = {}
    for t in trials:
        name = t.user_attrs.get("preset")
        if not name or name in found:
            continue
        profile = profile_for(data, t, find_measurement(data, study, t))
        if profile is not None and profile["breakdown"] is not None:
            found[name] = {
                "preset": name,
                "number": t.number,
                "breakdown": profile["breakdown"],
                "same_key": profile["same_key"],
            }
    return list(found.values())


def trial_detail(
    data: DashboardData,
    study: optuna.study.FrozenStudy,
    trial: FrozenTrial,
    trials: list[FrozenTrial],
    on_front: bool,
    exports: Path | None,
) -> dict[str, Any]:
    """Everything the trial page shows, as JSON (``trials``: the study's, for its presets)."""
    row = trial_row(trial, on_front, dominated_presets(trials).get(trial.number))
    row_found = find_measurement(data, study, trial)
    measurement = measurement_json(row_found)
    folder = export_folder(exports, study.study_name, trial.number, row["fingerprint"])
    accuracy = trial.user_attrs.get("accuracy")
    return {
        **row,
        "study": study.study_name,
        "params": dict(trial.params),
        "values": list(trial.values) if trial.values else None,
        "accuracy_detail": accuracy if isinstance(accuracy, dict) else None,
        "latency_detail": trial.user_attrs.get("latency"),
        "user_attrs": dict(trial.user_attrs),
        "measurement": measurement,
        "profile": profile_for(data, trial, row_found),
        "preset_breakdowns": preset_breakdowns(data, study, trials),
        "exports": exported_files(folder),
        "export_command": (
            f"lce-nas export --study {shlex.quote(study.study_name)} --trial {trial.number} -o DIR"
        ),
    }
