"""A candidate in flight and its way up the ladder: its rung, its seeds' trainings, its results.

The search loop owns the futures' scheduling; a :class:`Candidate` keeps one
trial's timing and a :class:`Climb` its training: which trainings the current rung takes
(one per seed), which of them are in, and each settled rung's
:class:`~lce_nas.search.fidelity.RungResult`. A single-rung ladder makes a
climb of one training, the search's behaviour before ladders.

Example:
    >>> from lce_nas.search.fidelity import Ladder
    >>> from lce_nas.workers.trainer import ProxySettings
    >>> ladder = Ladder.geometric(ProxySettings(), min_steps=100, max_steps=300, eta=3)
    >>> climb = Climb(ladder, preset=False)
    >>> [s.seed for s in climb.trainings()], climb.at_top
    ([0], False)
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import optuna
from lce_nas.search.fidelity import Ladder, RungResult
from lce_nas.workers.trainer import ProxySettings


@dataclass
class Climb:
    """One candidate's trainings: its current rung, the seeds still out, the rungs settled."""

    ladder: Ladder
    preset: bool
    rung: int = 0
    #: Per seed position of the current rung: its evaluation once in (else None).
    evaluations: list[Any] = field(default_factory=list)
    #: Per seed position: the training's future while it runs.
    pending: dict[int, Future] = field(default_factory=dict)
    results: list[RungResult] = field(default_factory=list)
    #: Whether every training so far came from the accuracy cache.
    all_cached: bool = True

    def __post_init__(self) -> None:
        self.evaluations = [None] * len(self.trainings())

    def trainings(self) -> list[ProxySettings]:
        """The settings of each training the current rung takes (one per seed)."""
        return self.ladder.seed_settings(self.rung, self.preset)

    @property
    def at_top(self) -> bool:
        return self.rung == len(self.ladder.rungs) - 1

    @property
    def started(self) -> bool:
        """Whether the current rung's trainings were submitted or found."""
        return bool(self.pending) or any(e is not None for e in self.evaluations)

    def futures(self) -> list[Future]:
        return list(self.pending.values())

    def settled(self) -> bool:
        """Whether every training of the current rung is in."""
        return all(e is not None for e in self.evaluations)

    def settle(self) -> RungResult:
        """The current rung's result (mean and standard error over its seeds), kept."""
        result = RungResult.from_evaluations(self.ladder.rungs[self.rung], self.evaluations)
        self.results.append(result)
        return result

    def step_up(self) -> None:
        """Go on to the next rung (its trainings are not yet submitted)."""
        self.rung += 1
        self.evaluations = [None] * len(self.trainings())
        self.pending.clear()

    @property
    def highest(self) -> RungResult:
        """The result of the highest rung settled (the accuracy the candidate stands on)."""
        return self.results[-1]

    def ladder_rows(self) -> list[dict[str, Any]]:
        """Every settled rung's result, lowest first, as a trial's record keeps them."""
        return [r.to_dict() for r in self.results]


@dataclass
class Candidate:
    """One trial in flight."""

    trial: optuna.Trial
    params: dict[str, Any]
    fingerprint: str
    climb: Climb
    latency: Any = None
    measurement_id: int | None = None
    #: The preset this candidate is, if any.
    preset: str | None = None
    latency_future: Future | None = None
    cached: dict[str, bool] = field(default_factory=lambda: {"latency": False, "accuracy": False})

    def futures(self) -> list[Future]:
        timing = [self.latency_future] if self.latency_future is not None else []
        return timing + self.climb.futures()
