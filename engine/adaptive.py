"""When to stop timing: warm up, then repeat until the median is stable or time runs out.

The same rule serves single runs on the host and batches on remote devices.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The run-policy settings a device profile carries (see :class:`RunPolicy`)."""

    warmup_runs: int = 5
    min_runs: int = 20
    max_runs: int = 2000
    tolerance: float = 0.01
    min_seconds: float = 1.0
    max_seconds: float = 30.0


@dataclass(frozen=True, kw_only=True)
class RunPolicy(RunSettings):
    """How long to time one model.

    After ``min_runs`` samples and ``min_seconds`` of timing, the median is
    checked every time the sample count has grown by a quarter (at least
    ``check_every``); timing stops
    once two checks in a row moved the median by less than ``tolerance``
    (relative), after ``max_runs`` samples, or after ``max_seconds``.

    Example:
        >>> RunPolicy(min_runs=10, tolerance=0.01).check_every
        5
    """

    check_every: int = 5

    @classmethod
    def from_device(cls, device: RunSettings, *, max_seconds: float | None = None) -> RunPolicy:
        """The policy a device profile asks for; ``max_seconds`` overrides its time cap."""
        cap = max_seconds if max_seconds is not None else device.max_seconds
        settings = {f.name: getattr(device, f.name) for f in fields(RunSettings)}
        settings.update(max_seconds=cap, min_seconds=min(device.min_seconds, cap))
        return cls(**settings)


#: Receives a measurement's short status lines.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TimingRequest:
    """What one measurement asks of any device: its policy, a per-op profile or not,
    and who hears its status lines.

    Example:
        >>> TimingRequest(RunPolicy(max_seconds=5)).policy.max_seconds
        5
    """

    policy: RunPolicy
    profile: bool = False
    progress: Progress | None = None


class StabilityTracker:
    """Feed samples; ``done`` says whether more are needed and ``reason`` why it stopped.

    Example:
        >>> t = StabilityTracker(RunPolicy(min_runs=3, min_seconds=0, check_every=1))
        >>> for s in [10.0] * 6:
        ...     t.add(s, elapsed_s=0.1)
        >>> t.done, t.reason
        (True, 'median stable')
    """

    def __init__(self, policy: RunPolicy, *, min_samples: int | None = None) -> None:
        self.policy = policy
        self.samples: list[float] = []
        self.reason = ""
        self._min = policy.min_runs if min_samples is None else min_samples
        self._last_check_n = 0
        self._last_median: float | None = None
        self._stable_checks = 0

    @property
    def done(self) -> bool:
        return bool(self.reason)

    def add(self, sample_ms: float, *, elapsed_s: float) -> None:
        """Record one sample taken ``elapsed_s`` seconds after timing began."""
        self.samples.append(sample_ms)
        n = len(self.samples)
        if n >= self.policy.max_runs:
            self.reason = "run limit"
        elif elapsed_s >= self.policy.max_seconds and n >= 2:
            self.reason = "time cap"
        elif elapsed_s < self.policy.min_seconds:
            return
        elif n >= self._min and n - self._last_check_n >= max(
            self.policy.check_every, self._last_check_n // 4
        ):
            self._check(n)

    def _check(self, n: int) -> None:
        median = statistics.median(self.samples)
        if self._last_median is not None and median > 0:
            change = abs(median - self._last_median) / median
            self._stable_checks = self._stable_checks + 1 if change < self.policy.tolerance else 0
        self._last_median = median
        self._last_check_n = n
        if self._stable_checks >= 2:
            self.reason = "median stable"
