"""Fronts of several studies side by side: one device, one latency key, any spaces."""

from __future__ import annotations

from typing import Any

from lce_nas.search.fidelity import front_proxy_settings
from lce_nas.search.front import StudyFront
from lce_nas.search.pareto import pareto_front

from lce_nas.errors import UserError

# What must agree for latencies of two studies to be compared.
_COMPARABLE = ("device", "engine", "engine_version", "threads", "kernel_options", "deploy_shape")


def comparison_rows(studies: list[StudyFront]) -> list[dict[str, Any]]:
    """Every study's front rows, with its study and space, and whether it is on the joint front.

    Studies timed under different latency keys (device, engine, threads,
    kernel options, deploy shape) are refused: their latencies do not compare.
    Proxy accuracies compare only on one dataset and proxy settings (a
    multi-fidelity study's: its top rung's), so those must agree too.

    Example:
        >>> rows = comparison_rows([results_a, results_b])  # doctest: +SKIP
        >>> {r["space"] for r in rows if r["on_joint_front"]}  # doctest: +SKIP
        {'quicknet', 'birealnet'}
    """
    from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE

    def key(results: StudyFront) -> dict[str, Any]:
        stored = {
            "deploy_shape": DEFAULT_DEPLOY_SHAPE,
            **(results.meta.get("measurement_key") or {}),
        }
        return {name: stored.get(name) for name in _COMPARABLE}

    first = studies[0]
    for other in studies[1:]:
        for name in _COMPARABLE:
            if key(other)[name] != key(first)[name]:
                raise UserError(
                    f"studies '{first.name}' and '{other.name}' were timed with different "
                    f"{name} ({key(first)[name]!r} vs {key(other)[name]!r}); "
                    "compare studies of one device and deploy shape"
                )
        trained = {
            "dataset": lambda meta: meta.get("dataset"),
            "proxy settings (at the top rung)": front_proxy_settings,
        }
        for name, of in trained.items():
            if of(other.meta) != of(first.meta):
                raise UserError(
                    f"studies '{first.name}' and '{other.name}' trained proxies with different "
                    f"{name}; their accuracies do not compare"
                )
    rows = [
        {"study": results.name, "space": results.meta.get("space"), **row}
        for results in studies
        for row in results.rows()
    ]
    joint = set(pareto_front([(r["accuracy"], r["latency_ms"]) for r in rows]))
    for index, row in enumerate(rows):
        row["on_joint_front"] = index in joint
    return sorted(rows, key=lambda r: (r["latency_ms"], -r["accuracy"]))
