"""One trial in full: config, latency distribution, breakdown, per-op profile, exports."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

from lce_nas.dashboard.data import DashboardData
from lce_nas.latency_db.records import INTERNAL_MEASUREMENT_COLUMNS
from lce_nas.search.front import StudyFront
from lce_nas.search.reader import StudyInfo
from lce_nas.search.record import TrialRecord

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
    data = {name: value for name, value in row.items() if name not in INTERNAL_MEASUREMENT_COLUMNS}
    data["id"] = row.get("id")
    for name in ("cv", "std_ms"):
        value = data.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            data[name] = None
    moment = row.get("measured_at")
    data["measured_at"] = moment.isoformat() if moment is not None else None
    data.pop("breakdown_ms", None)
    data["breakdown"] = breakdown(row)
    return data


def find_measurement(
    data: DashboardData, study: StudyInfo, record: TrialRecord
) -> dict[str, Any] | None:
    """The trial's measurement: by its stored id, else by fingerprint and the study's key."""
    if record.measurement_id is not None:
        row = data.measurements.measurement(record.measurement_id)
        # Ids are per database: after an import the id may name another model's row.
        if row is not None and (
            record.fingerprint is None or row["fingerprint"] == record.fingerprint
        ):
            return row
    key = study.meta.get("measurement_key")
    if record.fingerprint and isinstance(key, dict):
        return data.measurements.best_measurement(record.fingerprint, key)
    return None


def profile_for(
    data: DashboardData, record: TrialRecord, measurement: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Where the trial's time goes: its own measurement's profile, else another one's.

    A search times with the engine of its latency key, which may not profile
    (LCE's interpreter on the host); a profiled measurement of the same model
    on the same device (e.g. ``lce-nas bench --engine native --profile``)
    still shows where the time goes, marked ``same_key: false``.
    """
    source = measurement if measurement and breakdown(measurement) else None
    if source is None and record.fingerprint and measurement:
        source = data.measurements.profiled_measurement(record.fingerprint, measurement["device"])
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
    data: DashboardData, study: StudyInfo, records: list[TrialRecord]
) -> list[dict[str, Any]]:
    """The latency breakdown of each preset of the study (its first measured trial)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        name = record.preset
        if not name or name in found:
            continue
        profile = profile_for(data, record, find_measurement(data, study, record))
        if profile is not None and profile["breakdown"] is not None:
            found[name] = {
                "preset": name,
                "number": record.number,
                "breakdown": profile["breakdown"],
                "same_key": profile["same_key"],
            }
    return list(found.values())


def trial_detail(
    data: DashboardData,
    study: StudyInfo,
    front: StudyFront,
    record: TrialRecord,
    exports: Path | None,
) -> dict[str, Any]:
    """Everything the trial page shows, as JSON."""
    row = front.row(record)
    found = find_measurement(data, study, record)
    folder = export_folder(exports, study.name, record.number, record.fingerprint)
    raw = data.studies.trial_raw(study, record.number)
    return {
        **row,
        "study": study.name,
        "params": raw["params"],
        "values": list(record.values) if record.values else None,
        "accuracy_detail": record.accuracy,
        "latency_detail": record.latency,
        "user_attrs": raw["user_attrs"],
        "measurement": measurement_json(found),
        "profile": profile_for(data, record, found),
        "preset_breakdowns": preset_breakdowns(data, study, front.records),
        "exports": exported_files(folder),
        "export_command": (
            f"lce-nas export --study {shlex.quote(study.name)} --trial {record.number} -o DIR"
        ),
    }
