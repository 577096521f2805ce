"""Export of searched models: the LCE ``.tflite``, the Keras model and a model card."""

from __future__ import annotations

import contextlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from lce_nas.search.fidelity import accuracy_fidelity
from lce_nas.search.front import StudyFront

from lce_nas import __version__
from lce_nas.errors import UserError


def select_rows(
    results: StudyFront,
    *,
    front: bool = False,
    trial: int | None = None,
    best_under_ms: float | None = None,
) -> list[dict[str, Any]]:
    """The trials an export asks for, as front rows (``--front`` is the default)."""
    if trial is not None:
        rows = [r for r in results.rows(every_trial=True) if r["number"] == trial]
        if not rows:
            raise UserError(f"study '{results.name}' has no trial {trial}")
        if rows[0]["state"] != "COMPLETE" or rows[0]["latency_ms"] is None:
            raise UserError(
                f"trial {trial} of '{results.name}' did not complete ({rows[0]['state']})"
            )
        return rows
    if best_under_ms is not None:
        under = [
            r
            for r in results.rows(every_trial=True)
            if r["feasible"] and r["latency_ms"] <= best_under_ms
        ]
        if not under:
            raise UserError(
                f"no feasible trial of '{results.name}' is faster than {best_under_ms} ms"
            )
        return [max(under, key=lambda r: (r["accuracy"], -r["latency_ms"]))]
    rows = results.rows()
    if not rows:
        raise UserError(f"study '{results.name}' has no feasible completed trial to export yet")
    return rows


def _versions() -> dict[str, str]:
    versions = {"lce-nas": __version__}
    for package in ("larq-compute-engine", "tensorflow-cpu", "tf-keras", "larq"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def model_card(
    results: StudyFront,
    row: dict[str, Any],
    measurement: dict[str, Any] | None,
    accuracy: dict[str, Any] | None,
    tflite_sha256: str,
) -> dict[str, Any]:
    """What a user needs to trust and reproduce an exported model."""
    meta = results.meta
    return {
        "study": results.name,
        "trial": row["number"],
        "preset": row["preset"],
        "space": meta.get("space"),
        "space_version": meta.get("space_version"),
        "fingerprint": row["fingerprint"],
        "config": row["config"],
        "deploy_shape": _deploy_shape(meta).label,
        "summary": {
            "parameters": row["parameters"],
            "binary_macs": row["binary_macs"],
            "packed_bytes": row["packed_bytes"],
        },
        "latency": {
            "key": meta.get("measurement_key"),
            "median_ms": row["latency_ms"],
            "p10_ms": row["latency_p10_ms"],
            "p90_ms": row["latency_p90_ms"],
            "measurement": measurement,
        },
        "proxy_accuracy": {
            "top1": row["accuracy"],
            "stderr": row["accuracy_stderr"],
            "fidelity": accuracy_fidelity(meta),
            "dataset": meta.get("dataset"),
            "proxy_settings": meta.get("proxy_settings"),
            # One training (single fidelity), else the accuracy per rung climbed.
            "evaluation": accuracy,
            "ladder": row["ladder"] or None,
        },
        "on_front": row["on_front"],
        "dominates_presets": row["dominates_presets"],
        "ties_presets": row["ties_presets"],
        "tflite_sha256": tflite_sha256,
        "timed_model_sha256": (measurement or {}).get("model_sha256"),
        "weights_trained": False,
        "weights_note": "Deploy-size weights are untrained: train the .h5 model on your data "
        "(the proxy accuracy comes from a smaller proxy network), then convert it with LCE.",
        "versions": _versions(),
    }


def export_rows(
    results: StudyFront, rows: list[dict[str, Any]], out_dir: Path, store
) -> list[Path]:
    """Write ``OUT/STUDY/TRIAL-FINGERPRINT12/``: model.tflite, model.h5, model_card.json."""
    from lce_nas.engine.convert import convert_deploy, model_sha256
    from lce_nas.engine.measurement import MeasurementKey
    from lce_nas.space import get_space

    space = get_space(results.meta["space"])
    key = MeasurementKey(**results.meta["measurement_key"])
    shape = _deploy_shape(results.meta)
    written = []
    for row in rows:
        fingerprint = row["fingerprint"] or "unknown"
        folder = out_dir / results.name / f"{row['number']:04d}-{fingerprint[:12]}"
        folder.mkdir(parents=True, exist_ok=True)
        config = space.config_from_params(row["config"])
        model, tflite = convert_deploy(space, config, shape)
        (folder / "model.tflite").write_bytes(tflite)
        model.save(folder / "model.h5")
        measurement = store.lookup_measurement(row["fingerprint"], key)
        accuracy = None
        if not row["ladder"]:
            accuracy = store.lookup_accuracy(
                row["fingerprint"], results.meta["dataset"], results.meta["proxy_settings"]
            )
        card = model_card(
            results,
            row,
            None if measurement is None else _jsonable(measurement.to_dict()),
            None if accuracy is None else _jsonable(accuracy.__dict__),
            model_sha256(tflite),
        )
        (folder / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
        written.append(folder)
    return written


def _deploy_shape(meta: dict[str, Any]):
    """The study's deploy shape; studies from before shapes were keyed have the default."""
    from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE
    from lce_nas.space.shape import DeployShape

    label = (meta.get("measurement_key") or {}).get("deploy_shape", DEFAULT_DEPLOY_SHAPE)
    return DeployShape.from_label(label)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data.pop("samples_ms", None)
    return json.loads(json.dumps(data, default=str))
