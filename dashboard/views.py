"""JSON shapes of the studies page and a study's header, from the one trial record.

Rows, fronts, dominance, reference points and hypervolumes are those of
:mod:`lce_nas.search.front` (the same functions ``lce-nas front`` prints);
this module only adds what a page shows around them.
"""

from __future__ import annotations

from typing import Any

from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE
from lce_nas.search.fidelity import accuracy_fidelity, stored_rungs
from lce_nas.search.front import StudyFront
from lce_nas.search.reader import StudyInfo


def study_summary(
    study: StudyInfo, front: StudyFront, search: dict[str, Any] | None
) -> dict[str, Any]:
    """One row of the studies page."""
    meta = study.meta
    counts = {"COMPLETE": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0, "PRUNED": 0}
    moments = []
    infeasible = 0
    for r in front.records:
        counts[r.state] = counts.get(r.state, 0) + 1
        moments.extend(m for m in (r.started_at, r.completed_at) if m)
        infeasible += r.state == "COMPLETE" and not r.feasible
    key = meta.get("measurement_key") or {}
    return {
        "name": study.name,
        "space": meta.get("space"),
        "device": meta.get("device") or key.get("device"),
        "measurement_key": key or None,
        # Rows written before deploy shapes existed were all timed at the default.
        "deploy_shape": key.get("deploy_shape", DEFAULT_DEPLOY_SHAPE) if meta else None,
        "dataset": meta.get("dataset"),
        "sampler": meta.get("sampler"),
        "constraints": meta.get("constraints"),
        # What the front's accuracies are: the top rung's budget and seeds, or the one proxy.
        "accuracy_fidelity": accuracy_fidelity(meta) if meta else None,
        "rungs": len(stored_rungs(meta)) or None,
        "directions": list(study.directions),
        "metric_names": list(study.metric_names) if study.metric_names else None,
        "lce_nas": bool(meta),
        "trials": len(front.records),
        "complete": counts["COMPLETE"],
        "failed": counts["FAIL"],
        "running": counts["RUNNING"],
        "waiting": counts["WAITING"],
        "infeasible": infeasible,
        "front_size": len(front.front),
        "hypervolume": front.hypervolume,
        "reference_point": front.reference_point,
        "last_activity": max(moments).isoformat() if moments else None,
        "search_status": (search or {}).get("status"),
        "search_name": (search or {}).get("name"),
    }


def study_detail(
    study: StudyInfo, front: StudyFront, search: dict[str, Any] | None
) -> dict[str, Any]:
    """A study's summary plus its metadata and presets (the study page's header)."""
    detail = study_summary(study, front, search)
    detail["meta"] = study.meta
    detail["presets"] = study.meta.get("presets") or {}
    detail["search"] = search
    return detail
