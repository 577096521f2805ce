"""A static accuracy/latency plot of a study's trials and front, for papers."""

from __future__ import annotations

from pathlib import Path

from lce_nas.search.front import StudyFront


def plot_front(results: StudyFront, path: Path) -> None:
    """Scatter of every feasible trial, the front as a step line, presets labelled.

    The format follows the file name (PNG, PDF, SVG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feasible = [r for r in results.rows(every_trial=True) if r["feasible"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    ax.scatter(
        [r["latency_ms"] for r in feasible],
        [r["accuracy"] for r in feasible],
        s=18,
        color="#9aa5b1",
        label="trials",
    )
    front = results.rows()
    ax.step(
        [r["latency_ms"] for r in front],
        [r["accuracy"] for r in front],
        where="post",
        color="#d1495b",
        marker="o",
        label="Pareto front",
    )
    for row in feasible:
        if row["preset"]:
            ax.annotate(
                row["preset"],
                (row["latency_ms"], row["accuracy"]),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=8,
            )
    key = results.meta.get("measurement_key") or {}
    ax.set_xlabel(
        f"median latency on {key.get('device', '?')} (ms, {key.get('threads', '?')} "
        f"thread(s), {key.get('engine', '?')} {key.get('engine_version', '')})"
    )
    ax.set_ylabel(f"proxy top-1 ({results.meta.get('dataset', '?')})")
    ax.set_title(results.name)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
