"""A static accuracy/latency plot of a study's trials and front, for papers."""

from __future__ import annotations

from pathlib import Path

from lce_nas.search.front import StudyFront


def plot_front(results: StudyFront, path: Path) -> None:
    """Scatter of every feasible trial, the front as a step line, presets labelled.

    Trials of a multi-fidelity study that stopped below the top rung are hollow
    (their accuracy is of a cheaper fidelity); top-rung points carry error bars.

    The format follows the file name (PNG, PDF, SVG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feasible = [r for r in results.rows(every_trial=True) if r["feasible"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    top = [r for r in feasible if r["at_top"]]
    # Bars: one standard error of the accuracy over the top rung's seeds (none with one seed).
    ax.errorbar(
        [r["latency_ms"] for r in top],
        [r["accuracy"] for r in top],
        yerr=[r["accuracy_stderr"] or 0.0 for r in top],
        fmt="o",
        markersize=4,
        color="#9aa5b1",
        elinewidth=0.8,
        label="trials",
    )
    stopped = [r for r in feasible if not r["at_top"]]
    if stopped:
        ax.scatter(
            [r["latency_ms"] for r in stopped],
            [r["accuracy"] for r in stopped],
            s=14,
            facecolors="none",
            edgecolors="#9aa5b1",
            label="stopped below the top rung",
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
