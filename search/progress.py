"""What a running search reports: its counters, and the protocol of whoever shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SearchStats:
    """Counters a progress display shows, and what a benchmark reads."""

    completed: int = 0
    failed: int = 0
    infeasible: int = 0
    trained: int = 0
    timed: int = 0
    cache_hits: int = 0
    #: Candidates the latency predictor ruled out: never converted, timed or trained.
    predicted_out: int = 0
    #: Multi-fidelity: rungs climbed, and candidates stopped below the top rung.
    promoted: int = 0
    stopped: int = 0
    consecutive_failures: int = 0
    best_accuracy: float | None = None
    front_size: int = 0
    train_s: float = 0.0
    convert_s: float = 0.0
    measure_s: float = 0.0
    busy_intervals: list[tuple[float, float]] = field(default_factory=list)
    stop_reason: str = ""


class Reporter(Protocol):
    def update(self, stats: SearchStats, total: int | None) -> None: ...

    def log(self, line: str) -> None: ...
