"""The predictor: a regression per kernel type, summed per LCE-paper category, then corrected.

Kernel times are linear in the work a kernel does (binary and float MACs,
elements read and written, window taps) with a fixed cost per call, fitted
with non-negative weights so that a bigger kernel is never predicted faster.
The per-category sums are then fitted to the measured medians (what the
engine adds between ops, or how LCE's interpreter differs from the profiling
engine), and the interval is the spread of cross-validated errors. Both fits
minimise relative error (weights 1/y^2): a 1 ms miss on a 2 ms model is what
matters, not on a 60 ms one.

Which work a kernel is charged for is chosen per key by cross-validation
among :data:`FEATURE_SETS`: the work as the cost model counts it, or also the
work padded to the engine's register blocks (channels in whole 64-bit words
for binary convolutions, whole 8-lane vectors for float ones), since an
engine computes a partial block at the price of a full one.

Where a profile timed XNNPACK partitions rather than ops, the float kernels
share one regression fitted on each partition's summed work (with a kernel
count standing in for the per-kernel fixed cost), so a model's float ops are
still predicted kernel by kernel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from lce_nas.engine.breakdown import CATEGORIES, LCE_OPS, categorize
from lce_nas.predictor.training import DELEGATE_NODE, Example, TrainingSet
from lce_nas.space.kernels import Kernel

#: Bumped whenever fitting changes what a stored fit holds or predicts: older fits are refitted.
MODEL_VERSION = 4
#: Coverage of the interval a prediction carries.
COVERAGE = 0.9
#: Kernel types seen fewer times than this share one regression over all kernels.
MIN_KERNEL_ROWS = 4
_ANY_OP = "*"


#: Feature sets a key's fit chooses among (see :func:`kernel_features`).
FEATURE_SETS = ("work", "padded")
#: Register blocks of the padded work: binary input channels, float channels.
BINARY_WORD, FLOAT_LANES = 64, 8


def _padded(channels: int, block: int) -> int:
    return -(-channels // block) * block


def kernel_features(kernel: Kernel, features: str = "work") -> list[float]:
    """The work of one kernel, in millions: binary MACs, float MACs, elements in, out, and taps;
    with ``features="padded"`` also the binary and float MACs over whole register blocks and
    the output pixels.

    Example:
        >>> kernel_features(Kernel("ADD", (10, 10, 10), (10, 10, 10), in_elements=2000))
        [0.0, 0.0, 0.002, 0.001, 0.001]
        >>> kernel_features(Kernel("LceBconv2d", (4, 4, 96), (4, 4, 8)), "padded")[5]
        0.016384
    """
    taps = kernel.window[0] * kernel.window[1]
    values = [
        kernel.binary_macs,
        kernel.float_macs,
        kernel.in_elements,
        kernel.out_elements,
        kernel.out_elements * taps,
    ]
    if features == "padded":
        height, width, out_channels = kernel.out
        channels = kernel.inp[2]
        blocks = height * width * taps * _padded(out_channels, FLOAT_LANES)
        binary = float_ = 0
        if kernel.op == "LceBconv2d":
            binary = blocks * _padded(channels, BINARY_WORD)
        elif kernel.op == "CONV_2D":
            # A first layer's 1-3 input channels are not padded to a vector.
            in_block = FLOAT_LANES if channels >= FLOAT_LANES else 1
            float_ = blocks * _padded(channels, in_block)
        values += [binary, float_, height * width]
    return [v / 1e6 for v in values]


@dataclass(frozen=True)
class LinearFit:
    """``intercept + coef . features``, as plain numbers (stored as JSON, read without sklearn)."""

    coef: tuple[float, ...]
    intercept: float

    def __call__(self, features: Sequence[float]) -> float:
        return self.intercept + float(np.dot(self.coef, features))


def _fit_linear(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, intercept: bool = True
) -> LinearFit:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(positive=True, fit_intercept=intercept).fit(x, y, sample_weight=weight)
    # sklearn leaves the intercept unconstrained: a negative one would predict a tiny kernel < 0.
    if model.intercept_ < 0:
        model = LinearRegression(positive=True, fit_intercept=False).fit(x, y, sample_weight=weight)
    return LinearFit(tuple(float(c) for c in model.coef_), float(model.intercept_))


@dataclass(frozen=True)
class Prediction:
    """A predicted median with its interval and the LCE-paper breakdown."""

    median_ms: float
    low_ms: float
    high_ms: float
    breakdown_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        # Too few cross-validated errors for an interval: its bounds are left out (None).
        bound = lambda v: round(v, 4) if 0 < v < math.inf else None  # noqa: E731
        return {
            "median_ms": round(self.median_ms, 4),
            "low_ms": bound(self.low_ms),
            "high_ms": bound(self.high_ms),
            "breakdown_ms": {k: round(v, 4) for k, v in self.breakdown_ms.items()},
        }


@dataclass
class Predictor:
    """A fitted predictor of one key (see :func:`fit`)."""

    kernels: dict[str, LinearFit]
    correction: LinearFit
    #: Which of :data:`FEATURE_SETS` the kernel fits take.
    features: str = "work"
    #: Float kernels are predicted by the delegate partitions' regression.
    delegated: bool = False
    #: Quantiles of log(measured / predicted) over cross-validated predictions.
    interval: tuple[float, float] = (-math.inf, math.inf)
    examples: int = 0
    profiled: int = 0
    cv: dict[str, Any] = field(default_factory=dict)

    def category_sums(self, kernels: Sequence[Kernel]) -> dict[str, float]:
        sums = dict.fromkeys(CATEGORIES, 0.0)
        for kernel, category in zip(kernels, categorize([k.op for k in kernels]), strict=True):
            features = kernel_features(kernel, self.features)
            if self.delegated and kernel.op not in LCE_OPS:
                fit, features = self.kernels[DELEGATE_NODE], [*features, 1.0]
            else:
                fit = self.kernels.get(kernel.op) or self.kernels[_ANY_OP]
            sums[category] += max(fit(features), 0.0)
        return sums

    def point(self, kernels: Sequence[Kernel]) -> float:
        """The predicted median alone."""
        return self.predict(kernels).median_ms

    def predict(self, kernels: Sequence[Kernel]) -> Prediction:
        """The predicted median, its interval and breakdown for a model's kernels."""
        sums = self.category_sums(kernels)
        median = max(self.correction([sums[c] for c in CATEGORIES]), 1e-6)
        total = sum(sums.values()) or 1.0
        # The breakdown keeps the kernels' shares of the corrected median.
        breakdown = {c: median * sums[c] / total for c in CATEGORIES}
        low, high = (median * math.exp(q) for q in self.interval)
        return Prediction(median, low, high, breakdown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kernels": {op: asdict(f) for op, f in self.kernels.items()},
            "correction": asdict(self.correction),
            "features": self.features,
            "delegated": self.delegated,
            "interval": list(self.interval),
            "examples": self.examples,
            "profiled": self.profiled,
            "cv": self.cv,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Predictor:
        def linear(d: dict[str, Any]) -> LinearFit:
            return LinearFit(tuple(d["coef"]), d["intercept"])

        return cls(
            kernels={op: linear(f) for op, f in data["kernels"].items()},
            correction=linear(data["correction"]),
            features=data.get("features", "work"),
            delegated=data.get("delegated", False),
            interval=(data["interval"][0], data["interval"][1]),
            examples=data["examples"],
            profiled=data["profiled"],
            cv=data.get("cv", {}),
        )


def _relative(y: np.ndarray) -> np.ndarray:
    # Weights that make least squares minimise squared relative error.
    return 1.0 / np.maximum(y, 1e-4) ** 2


def _fit_kernels(examples: Sequence[Example], feature_set: str) -> dict[str, LinearFit]:
    rows: dict[str, list[tuple[list[float], float]]] = defaultdict(list)
    for example in examples:
        assert example.kernel_ms is not None
        for kernel, ms in zip(example.kernels, example.kernel_ms, strict=True):
            if math.isnan(ms):  # inside a delegate partition
                continue
            features = kernel_features(kernel, feature_set)
            rows[kernel.op].append((features, ms))
            rows[_ANY_OP].append((features, ms))
        for members, ms in example.partitions:
            work = np.sum([kernel_features(example.kernels[i], feature_set) for i in members], 0)
            rows[DELEGATE_NODE].append(([*work, float(len(members))], ms))
    fits = {}
    for op, pairs in rows.items():
        if op not in (_ANY_OP, DELEGATE_NODE) and len(pairs) < MIN_KERNEL_ROWS:
            continue
        x = np.array([f for f, _ in pairs])
        y = np.array([ms for _, ms in pairs])
        # A partition's fixed cost is per kernel (the count column), not per partition.
        fits[op] = _fit_linear(x, y, _relative(y), intercept=op != DELEGATE_NODE)
    return fits


def _fit(examples: Sequence[Example], feature_set: str = "work") -> Predictor:
    profiled = [e for e in examples if e.kernel_ms is not None]
    if not profiled:
        raise ValueError("no profiled examples")
    identity = LinearFit((1.0,) * len(CATEGORIES), 0.0)
    delegated = any(e.partitions for e in profiled)
    predictor = Predictor(_fit_kernels(profiled, feature_set), identity, feature_set, delegated)
    x = np.array([list(predictor.category_sums(e.kernels).values()) for e in examples])
    y = np.array([e.median_ms for e in examples])
    predictor.correction = _fit_linear(x, y, _relative(y))
    predictor.examples, predictor.profiled = len(examples), len(profiled)
    return predictor


def _folds(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def cross_validated(
    examples: Sequence[Example], folds: int = 5, feature_set: str = "work"
) -> list[tuple[float, float]]:
    """(measured, predicted) medians, each predicted by a fit that never saw its architecture."""
    pairs = []
    for held in _folds(len(examples), min(folds, len(examples))):
        held_set = set(held.tolist())
        train = [e for i, e in enumerate(examples) if i not in held_set]
        if not any(e.kernel_ms is not None for e in train):
            continue
        predictor = _fit(train, feature_set)
        pairs.extend((examples[i].median_ms, predictor.point(examples[i].kernels)) for i in held)
    return pairs


def error_summary(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """How close predictions came: share within +-10 %, median and 90th-percentile error.

    Example:
        >>> error_summary([(10.0, 10.5), (10.0, 12.0)])["within_10pct"]
        0.5
    """
    if not pairs:
        return {"n": 0}
    errors = np.array([abs(p - m) / m for m, p in pairs])
    return {
        "n": len(pairs),
        "within_10pct": round(float(np.mean(errors <= 0.10)), 4),
        "median_abs_pct": round(100 * float(np.median(errors)), 2),
        "p90_abs_pct": round(100 * float(np.percentile(errors, 90)), 2),
        "max_abs_pct": round(100 * float(errors.max()), 2),
    }


def _conformal(log_ratios: np.ndarray, coverage: float) -> tuple[float, float]:
    # Split-conformal quantiles: with n errors, the ceil((n+1)(1-a/2))-th smallest, so
    # the interval covers at least ``coverage`` of new models on average.
    n = len(log_ratios)
    alpha = 1 - coverage
    rank = math.ceil((n + 1) * (1 - alpha / 2))
    if rank > n:
        return (-math.inf, math.inf)
    ordered = np.sort(log_ratios)
    return float(ordered[n - rank]), float(ordered[rank - 1])


def fit(training: TrainingSet, folds: int = 5) -> Predictor:
    """Fit the kernel regressions and the correction on every example; CV picks the
    feature set (the larger share within +-10 %, then the smaller median error, then the
    simpler set) and gives the interval.

    Raises ValueError when no example has a profile.
    """
    examples = list(training.examples)
    by_set = {name: cross_validated(examples, folds, name) for name in FEATURE_SETS}

    def score(name: str) -> tuple[float, float, int]:
        summary = error_summary(by_set[name])
        return (-summary.get("within_10pct", 0.0), summary.get("median_abs_pct", math.inf),
                FEATURE_SETS.index(name))  # fmt: skip

    chosen = min(FEATURE_SETS, key=score)
    predictor = _fit(examples, chosen)
    pairs = by_set[chosen]
    ratios = np.array([math.log(m / p) for m, p in pairs])
    predictor.interval = _conformal(ratios, COVERAGE) if len(ratios) else (-math.inf, math.inf)
    predictor.cv = error_summary(pairs)
    return predictor
