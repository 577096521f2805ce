"""The join behind Pareto fronts and exports: architecture x best latency x accuracy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lce_nas.engine.measurement import MeasurementKey
from lce_nas.latency_db.models import ACCURACIES as _ACC
from lce_nas.latency_db.models import ARCHITECTURES as _ARCHS
from lce_nas.latency_db.models import MEASUREMENTS as _MEAS
from lce_nas.latency_db.records import (
    SUMMARY_MEASUREMENT_COLUMNS,
    AccuracyEvaluation,
    best_rank,
    json_safe,
    where_given,
)
from sqlalchemy import Connection, select

from lce_nas.canonical import canonical_json

if TYPE_CHECKING:
    from lce_nas.latency_db.store import LatencyStore


_ACCURACY_FIELDS = (
    "dataset",
    "proxy_settings",
    "proxy_settings_hash",
    "top1",
    "loss",
    "epochs",
    "seed",
    "train_seconds",
    "evaluated_at",
)


def front_rows(
    store: LatencyStore,
    space: str | None = None,
    device_key: MeasurementKey | None = None,
    dataset: str | None = None,
    proxy_settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows for fronts and exports, fastest first.

    One row per (architecture, measurement key, accuracy evaluation). Each
    row holds the architecture's columns (``fingerprint``, ``space``,
    ``space_version``, ``config``, ``parameters``, ``binary_macs``,
    ``float_macs``, ``packed_bytes``), ``measurement_id`` and the columns of
    the key's best measurement (the one with the most runs, then the newest:
    ``device`` ... ``median_ms``, ``p10_ms``, ``p90_ms``, ``cv``, ``runs``,
    ``breakdown_ms``, ``model_sha256``), and the accuracy columns
    (``dataset``, ``proxy_settings``, ``proxy_settings_hash``, ``top1``,
    ``loss``, ``epochs``, ``seed``, ``train_seconds``, ``evaluated_at``),
    which are all None when no evaluation matches. Architectures without a
    matching measurement are left out; bare ``tflite:`` files are never in.

    ``device_key`` keeps only measurements with exactly that key;
    ``dataset`` and ``proxy_settings`` narrow the evaluations.

    Example:
        >>> from lce_nas.latency_db import LatencyStore
        >>> LatencyStore("sqlite://").front_rows(space="quicknet")
        []
    """
    settings_hash = None
    if proxy_settings is not None:
        settings_hash = AccuracyEvaluation("", "", proxy_settings, 0.0).proxy_settings_hash

    def work(conn: Connection) -> list[dict[str, Any]]:
        archs = _architectures(conn, space)
        best = _best_measurements(conn, space, device_key)
        accuracy = _accuracies(conn, space, dataset, settings_hash)
        rows = []
        for fingerprint, measured in best.items():
            arch = archs.get(fingerprint)
            if arch is None:
                continue
            for m in measured:
                evaluations = accuracy.get(fingerprint) or [dict.fromkeys(_ACCURACY_FIELDS)]
                measured_columns = {
                    "measurement_id": m["id"],
                    **_pick(m, SUMMARY_MEASUREMENT_COLUMNS),
                }
                rows.extend({**arch, **measured_columns, **ev} for ev in evaluations)
        rows.sort(key=lambda r: (r["median_ms"], r["fingerprint"], r["measurement_id"]))
        return rows

    return store._read(work)


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: row[name] for name in names}


def _architectures(conn: Connection, space: str | None) -> dict[str, dict[str, Any]]:
    query = select(_ARCHS)
    if space is not None:
        query = query.where(_ARCHS.c.space == space)
    result = {}
    for r in conn.execute(query):
        row = dict(r._mapping)
        row.pop("created_at")
        result[row["fingerprint"]] = row
    return result


def _best_measurements(
    conn: Connection, space: str | None, key: MeasurementKey | None
) -> dict[str, list[dict[str, Any]]]:
    """Per fingerprint, the best sample of every measurement key."""
    query = select(_MEAS).join(_ARCHS, _ARCHS.c.fingerprint == _MEAS.c.fingerprint)
    if space is not None:
        query = query.where(_ARCHS.c.space == space)
    if key is not None:
        query = query.where(
            _MEAS.c.device == key.device,
            _MEAS.c.engine == key.engine,
            _MEAS.c.engine_version == key.engine_version,
            _MEAS.c.threads == int(key.threads),
        )
        wanted_options = canonical_json(json_safe(key.kernel_options))
    best: dict[str, dict[str, Any]] = {}
    for r in conn.execute(query):
        row = dict(r._mapping)
        if key is not None and canonical_json(row["kernel_options"]) != wanted_options:
            continue
        held = best.get(row["key_sha256"])
        if held is None or best_rank(row) > best_rank(held):
            best[row["key_sha256"]] = row
    by_fingerprint: dict[str, list[dict[str, Any]]] = {}
    for row in best.values():
        by_fingerprint.setdefault(row["fingerprint"], []).append(row)
    return by_fingerprint


def _accuracies(
    conn: Connection, space: str | None, dataset: str | None, settings_hash: str | None
) -> dict[str, list[dict[str, Any]]]:
    query = where_given(
        select(_ACC).join(_ARCHS, _ARCHS.c.fingerprint == _ACC.c.fingerprint),
        (_ARCHS.c.space, space),
        (_ACC.c.dataset, dataset),
        (_ACC.c.proxy_settings_hash, settings_hash),
    )
    result: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(query.order_by(_ACC.c.evaluated_at, _ACC.c.id)):
        row = dict(r._mapping)
        result.setdefault(row["fingerprint"], []).append(_pick(row, _ACCURACY_FIELDS))
    return result
