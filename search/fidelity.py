"""Training budgets of a multi-fidelity search: rungs of optimizer steps and width.

A :class:`Ladder` is the list of :class:`Rung` a candidate may climb: each
rung trains the proxy for more optimizer steps (growing by ``eta``), at its
own width multiplier, and the top rung with several seeds. A ladder of one
rung is single-fidelity training, exactly the proxy settings it was made
from. Every rung's training is an ordinary proxy training: its settings (steps
as epochs x subset, width, seed) are the accuracy cache's key, so a finished
rung is never trained twice.

Example:
    >>> from lce_nas.workers.trainer import ProxySettings
    >>> ladder = Ladder.geometric(ProxySettings(), min_steps=125, max_steps=1125, eta=3)
    >>> [(r.steps, r.width, r.seeds) for r in ladder.rungs]
    [(125, 0.0625, 1), (375, 0.0625, 1), (1125, 0.0625, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lce_nas.workers.trainer import ProxySettings

from lce_nas.errors import UserError

#: Training images per epoch at most; longer budgets take more epochs over such a subset.
SUBSET_CAP = 8000
#: Seeds at the top rung of a multi-fidelity ladder (the presets take at least PRESET_SEEDS).
TOP_SEEDS = 2
PRESET_SEEDS = 3
#: The command line's ladder unless told otherwise: 125 steps at width 1/16 (the
#: proxy's), then 500 at 1/8, eta 4 apart. Chosen by the fidelity benchmark
#: (benchmarks/proxy_fidelity_ladder.jsonl): of the ladders measured it alone
#: ranks like a 4,000-step width-1/4 reference with tau >= 0.8 (0.810, no pair the
#: reference separates misordered) within 3x the training of single fidelity
#: (2.8x); eta 3 to a 375-step top costs 2.5x and reaches 0.790, a third rung
#: of 1,125 steps at 1/4 costs 4.3x and reaches 0.790.
DEFAULT_MAX_STEPS = 500
DEFAULT_ETA = 4.0
DEFAULT_WIDTHS = (0.0625, 0.125)


def rung_label(index: int) -> str:
    """How a rung is named in records and benchmark rows.

    Example:
        >>> rung_label(2)
        'rung-2'
    """
    return f"rung-{index}"


def proxy_steps(settings: ProxySettings) -> int:
    """Optimizer steps a proxy training with ``settings`` takes.

    Example:
        >>> proxy_steps(ProxySettings(epochs=2, subset=2000, batch_size=16))
        250
    """
    return settings.epochs * math.ceil(settings.subset / settings.batch_size)


def settings_for_steps(base: ProxySettings, steps: int, width: float) -> ProxySettings:
    """``base`` trained for about ``steps`` steps at ``width``: one epoch over a subset
    of ``steps x batch`` images, or several epochs over at most :data:`SUBSET_CAP`.

    Example:
        >>> s = settings_for_steps(ProxySettings(), 4000, 0.25)
        >>> s.epochs, s.subset, proxy_steps(s)
        (8, 8000, 4000)
    """
    images = steps * base.batch_size
    epochs = max(1, math.ceil(images / SUBSET_CAP))
    subset = math.ceil(images / epochs / base.batch_size) * base.batch_size
    return base.replace(epochs=epochs, subset=subset, width=width)


@dataclass(frozen=True)
class Rung:
    """One training budget: the proxy settings of its first seed and how many seeds it takes.

    Example:
        >>> rung = Rung(0, ProxySettings(), seeds=2)
        >>> rung.label, rung.steps, [s.seed for s in rung.seed_settings(3)]
        ('rung-0', 125, [0, 1, 2])
    """

    index: int
    settings: ProxySettings
    seeds: int = 1

    @property
    def label(self) -> str:
        return rung_label(self.index)

    @property
    def steps(self) -> int:
        return proxy_steps(self.settings)

    @property
    def width(self) -> float:
        return self.settings.width

    def seed_settings(self, seeds: int | None = None) -> list[ProxySettings]:
        """The settings of each training this rung takes (consecutive seeds)."""
        count = self.seeds if seeds is None else seeds
        return [self.settings.replace(seed=self.settings.seed + i) for i in range(count)]

    def fidelity(self) -> dict[str, Any]:
        """What a stored accuracy says of its fidelity."""
        return {"rung": self.index, "steps": self.steps, "width": self.width}


@dataclass(frozen=True)
class Ladder:
    """The rungs a candidate climbs, the promotion factor and the presets' top-rung seeds.

    Example:
        >>> Ladder.single(ProxySettings()).is_single
        True
    """

    rungs: tuple[Rung, ...]
    eta: float = 3.0
    preset_seeds: int = 1

    @classmethod
    def single(cls, settings: ProxySettings) -> Ladder:
        """One rung: ``settings`` as given, one seed (single-fidelity training)."""
        return cls((Rung(0, settings),), eta=1.0, preset_seeds=1)

    @classmethod
    def geometric(
        cls,
        base: ProxySettings,
        *,
        min_steps: int,
        max_steps: int,
        eta: float,
        widths: Sequence[float] = (),
        top_seeds: int = TOP_SEEDS,
        preset_seeds: int = PRESET_SEEDS,
    ) -> Ladder:
        """Rungs ``eta`` apart, from ``max_steps`` (the top) down to ``min_steps`` or above.

        ``widths``: one width for every rung, or one per rung (default: ``base``'s).

        Example:
            >>> ladder = Ladder.geometric(ProxySettings(), min_steps=100, max_steps=400,
            ...                           eta=4, widths=[0.0625, 0.25])
            >>> [(r.steps, r.width) for r in ladder.rungs]
            [(100, 0.0625), (400, 0.25)]
        """
        problems = [
            (min_steps < 1, f"--min-steps must be at least 1, got {min_steps}"),
            (max_steps < min_steps, f"--max-steps {max_steps} is below --min-steps {min_steps}"),
            (not eta > 1, f"--eta must be above 1 (rungs grow by it), got {eta}"),
            (top_seeds < 1, f"--top-seeds must be at least 1, got {top_seeds}"),
            (any(not w > 0 for w in widths), f"--widths must be positive, got {list(widths)}"),
        ]
        for bad, message in problems:
            if bad:
                raise UserError(message)
        # Anchored at the top, so that neighbouring rungs are always eta apart and the
        # lowest lies at or above min_steps (ASHA's from-the-bottom levels end in a
        # stub rung when max/min is not a power of eta).
        top = math.floor(math.log(max_steps / min_steps, eta) + 1e-9)
        steps = [round(max_steps / eta ** (top - k)) for k in range(top + 1)]
        if len(widths) not in (0, 1, len(steps)):
            raise UserError(
                f"--widths: give one width or one per rung ({len(steps)} rungs: "
                f"{', '.join(map(str, steps))} steps), got {len(widths)}"
            )
        per_rung = list(widths) * len(steps) if len(widths) == 1 else list(widths)
        per_rung = per_rung or [base.width] * len(steps)
        rungs = tuple(
            Rung(
                k,
                settings_for_steps(base, n, per_rung[k]),
                seeds=top_seeds if k == top else 1,
            )
            for k, n in enumerate(steps)
        )
        return cls(rungs, eta=float(eta), preset_seeds=max(preset_seeds, top_seeds))

    @property
    def is_single(self) -> bool:
        """One rung of one seed: single-fidelity training, as before ladders."""
        return len(self.rungs) == 1 and self.rungs[0].seeds == 1 and self.preset_seeds == 1

    @property
    def top(self) -> Rung:
        return self.rungs[-1]

    def seed_settings(self, index: int, preset: bool) -> list[ProxySettings]:
        """The trainings a candidate takes at rung ``index`` (presets: more seeds at the top)."""
        rung = self.rungs[index]
        seeds = max(rung.seeds, self.preset_seeds) if preset and rung is self.top else None
        return rung.seed_settings(seeds)

    def to_dict(self) -> dict[str, Any] | None:
        """What a study keeps of its ladder (None for single fidelity, as before ladders)."""
        if self.is_single:
            return None
        return {
            "eta": self.eta,
            "preset_seeds": self.preset_seeds,
            "rungs": [
                {**r.fidelity(), "seeds": r.seeds, "proxy": r.settings.to_dict()}
                for r in self.rungs
            ],
        }

    def describe(self) -> str:
        """One line: each rung's steps, width and seeds.

        Example:
            >>> Ladder.single(ProxySettings()).describe()
            'one rung: 125 steps at width 0.0625, 1 seed'
        """
        parts = [
            f"{r.steps} steps at width {r.width:g}, {r.seeds} seed{'s' if r.seeds > 1 else ''}"
            for r in self.rungs
        ]
        if len(parts) == 1:
            return f"one rung: {parts[0]}"
        return f"{len(parts)} rungs (eta {self.eta:g}): " + "; ".join(parts)


@dataclass(frozen=True)
class RungResult:
    """A candidate's accuracy at one rung: the mean over its seeds and its standard error.

    ``stderr`` is the sample standard deviation over the seeds divided by
    sqrt(seeds), None with one seed (one training cannot tell its own noise).

    Example:
        >>> r = RungResult.from_top1(Rung(1, ProxySettings(), seeds=2), [0.60, 0.64])
        >>> round(r.top1, 3), round(r.stderr, 3), r.to_dict()["rung"]
        (0.62, 0.02, 1)
    """

    rung: int
    steps: int
    width: float
    top1: float
    stderr: float | None
    seeds_top1: tuple[float, ...]
    loss: float | None = None
    epochs: int = 0
    train_seconds: float = 0.0

    @classmethod
    def from_top1(
        cls,
        rung: Rung,
        top1: Sequence[float],
        losses: Sequence[float | None] = (),
        train_seconds: float = 0.0,
    ) -> RungResult:
        """The result of ``rung`` from each seed's top-1 (and loss)."""
        if not top1:
            raise ValueError("a rung result needs at least one training")
        n = len(top1)
        mean = sum(top1) / n
        stderr = None
        if n > 1:
            variance = sum((x - mean) ** 2 for x in top1) / (n - 1)
            stderr = math.sqrt(variance / n)
        finite = [x for x in losses if x is not None and math.isfinite(x)]
        return cls(
            rung=rung.index,
            steps=rung.steps,
            width=rung.width,
            top1=mean,
            stderr=stderr,
            seeds_top1=tuple(top1),
            loss=sum(finite) / len(finite) if finite else None,
            epochs=rung.settings.epochs,
            train_seconds=train_seconds,
        )

    @classmethod
    def from_evaluations(cls, rung: Rung, evaluations: Sequence[Any]) -> RungResult:
        """The result of ``rung`` from its seeds' ``AccuracyEvaluation`` s."""
        return cls.from_top1(
            rung,
            [e.top1 for e in evaluations],
            [e.loss for e in evaluations],
            sum(e.train_seconds for e in evaluations),
        )

    def to_dict(self) -> dict[str, Any]:
        """One step of a trial's ladder, as its record keeps it."""
        return {
            "rung": self.rung,
            "label": rung_label(self.rung),
            "steps": self.steps,
            "width": self.width,
            "top1": self.top1,
            "stderr": self.stderr,
            "seeds": len(self.seeds_top1),
            "seeds_top1": list(self.seeds_top1),
            "loss": self.loss,
            "epochs": self.epochs,
            "train_seconds": self.train_seconds,
        }


def stored_rungs(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The rungs a study's metadata keeps of its ladder (empty for single fidelity).

    Example:
        >>> ladder = Ladder.geometric(ProxySettings(), min_steps=100, max_steps=900, eta=3)
        >>> [r["steps"] for r in stored_rungs({"ladder": ladder.to_dict()})], stored_rungs({})
        ([100, 300, 900], [])
    """
    ladder = meta.get("ladder")
    rungs = ladder.get("rungs") if isinstance(ladder, dict) else None
    return [r for r in rungs if isinstance(r, dict)] if isinstance(rungs, list) else []


def ladder_arguments(ladder: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments of :meth:`Ladder.geometric` that build a stored ladder again
    (``Ladder.to_dict``'s), so that a study resumes with its own ladder; {} for single
    fidelity.

    Example:
        >>> ladder = Ladder.geometric(ProxySettings(), min_steps=125, max_steps=1125, eta=3,
        ...                           widths=[0.0625, 0.125, 0.25])
        >>> Ladder.geometric(ProxySettings(), **ladder_arguments(ladder.to_dict())) == ladder
        True
        >>> ladder_arguments(None)
        {}
    """
    rungs = stored_rungs({"ladder": ladder})
    if not rungs or ladder is None:
        return {}
    eta = float(ladder["eta"])
    top = int(rungs[-1]["steps"])
    # Rungs are anchored at the top, so the lowest rung's exact share of it is the
    # min_steps that rebuilds as many rungs (its rounded steps may fall one short).
    lowest = math.floor(top / eta ** (len(rungs) - 1) + 1e-9)
    return {
        "max_steps": top,
        "min_steps": max(1, lowest),
        "eta": eta,
        "widths": tuple(float(r["width"]) for r in rungs),
        "top_seeds": int(rungs[-1]["seeds"]),
    }


def accuracy_fidelity(meta: dict[str, Any]) -> str:
    """What a study's front accuracies are: the top rung's budget, its seeds, its error bars.

    ``meta`` is the study's lce-nas metadata (its ``ladder``, else ``proxy_settings``).

    Example:
        >>> ladder = Ladder.geometric(ProxySettings(), min_steps=100, max_steps=900, eta=3)
        >>> accuracy_fidelity({"ladder": ladder.to_dict()})
        'top rung of 3: 900 steps at width 0.0625, mean of 2 seeds (presets 3) ± standard error'
        >>> accuracy_fidelity({"proxy_settings": ProxySettings().to_dict()})
        '125 steps at width 0.0625, one seed (no error bars)'
    """
    rungs = stored_rungs(meta)
    if rungs:
        top = rungs[-1]
        return (
            f"top rung of {len(rungs)}: {top.get('steps')} steps at width "
            f"{top.get('width'):g}, mean of {top.get('seeds')} seeds "
            f"(presets {meta['ladder'].get('preset_seeds')}) ± standard error"
        )
    proxy = meta.get("proxy_settings")
    if not isinstance(proxy, dict):
        return "unknown fidelity"
    settings = ProxySettings.from_dict(proxy)
    return f"{proxy_steps(settings)} steps at width {settings.width:g}, one seed (no error bars)"


def front_proxy_settings(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The proxy settings a study's front accuracies were trained with (its top rung's).

    Two studies' fronts compare when these agree (and the dataset does).

    Example:
        >>> ladder = Ladder.geometric(ProxySettings(), min_steps=100, max_steps=900, eta=3)
        >>> top = front_proxy_settings({"ladder": ladder.to_dict()})
        >>> top["epochs"], top["subset"]
        (2, 7200)
    """
    rungs = stored_rungs(meta)
    return rungs[-1].get("proxy") if rungs else meta.get("proxy_settings")
