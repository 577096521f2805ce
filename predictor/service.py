"""A key's predictor from the database: fitted when its measurements changed, else read back.

Fitting imports scikit-learn and cross-validates (about a second); a stored
predictor whose training set is unchanged is read back in milliseconds, so
``lce-nas predict`` answers well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lce_nas.engine.measurement import MeasurementKey
from lce_nas.latency_db import predictors
from lce_nas.predictor.model import MODEL_VERSION, Prediction, Predictor, fit
from lce_nas.predictor.training import signature, timed_rows, training_set
from lce_nas.space.base import SearchSpace
from lce_nas.space.shape import DeployShape

from lce_nas.canonical import sha256_hex
from lce_nas.errors import UserError

#: Profiled architectures a search needs before it lets predictions rule candidates out
#: (chosen with ``benchmarks/latency_predictor.py``: see the README).
MIN_EXAMPLES = 20


def key_sha256(key: MeasurementKey) -> str:
    return sha256_hex(key.to_dict())


@dataclass
class KeyPredictor:
    """A fitted predictor with what it was trained on."""

    space: SearchSpace[Any]
    key: MeasurementKey
    predictor: Predictor
    #: Where the kernel times came from, and how many profiles did not line up.
    trained_on: dict[str, Any]
    refitted: bool

    @property
    def examples(self) -> int:
        return self.predictor.examples

    def predict(self, config: Any) -> Prediction:
        shape = DeployShape.from_label(self.key.deploy_shape)
        return self.predictor.predict(self.space.kernels(config, shape.input_shape, shape.classes))

    def describe(self) -> dict[str, Any]:
        """What the predictor was trained on, for ``predict`` and the trial records."""
        return {
            "key": self.key.to_dict(),
            "profiles_from": self.trained_on.get("profiles_from"),
            "examples": self.predictor.examples,
            "profiled": self.predictor.profiled,
            "unaligned": self.trained_on.get("unaligned", 0),
            "slowed": self.trained_on.get("slowed", 0),
            "cross_validated": self.predictor.cv,
            "interval_coverage": 0.9,
        }


def load_predictor(store: Any, space: SearchSpace[Any], key: MeasurementKey) -> KeyPredictor:
    """The predictor of ``space`` on ``key``: read back when its training set is unchanged.

    Raises :class:`UserError` when the database has nothing to learn from.
    """
    space.kernels(next(iter(space.presets().values())))  # a space without a kernel list says so
    rows = timed_rows(store, space, key)
    # A stored fit is reused only by the fitting code that made it.
    digest = sha256_hex([signature(rows), MODEL_VERSION])
    stored = predictors.stored_predictor(store, space.name, key_sha256(key))
    if stored is not None and stored["training_sha256"] == digest:
        info = stored["predictor"]
        return KeyPredictor(
            space, key, Predictor.from_dict(info), info.get("trained_on", {}), False
        )
    training = training_set(store, space, key, rows)
    if not training.examples:
        raise UserError(
            f"the database has no {space.name} latencies for {_key_text(key)}; run "
            f"'lce-nas calibrate --space {space.name} --device {key.device}' first"
        )
    if not training.profiled:
        raise UserError(
            f"no per-op profiles for {_key_text(key)} ({len(training.examples)} latencies without "
            f"one); run 'lce-nas calibrate --space {space.name} --device {key.device}', "
            "which profiles every model"
        )
    predictor = fit(training)
    profile = training.profile_key
    trained_on = {
        "profiles_from": profile.to_dict() if profile else None,
        "unaligned": training.unaligned,
        "slowed": training.slowed,
    }
    predictors.store_predictor(
        store, space.name, key_sha256(key), key.to_dict(), digest,
        {**predictor.to_dict(), "trained_on": trained_on}, datetime.now(UTC),
    )  # fmt: skip
    return KeyPredictor(space, key, predictor, trained_on, True)


def _key_text(key: MeasurementKey) -> str:
    return (
        f"device '{key.device}' (engine {key.engine} {key.engine_version}, "
        f"{key.threads} thread(s), {key.deploy_shape})"
    )


class SearchPredictor:
    """The predictor a search consults before it converts a candidate.

    It predicts only once the key has ``min_examples`` profiled architectures
    (below that, everything is measured), and refits after every
    ``refit_every`` new timings. A space without a kernel list, or a key
    with nothing to learn from yet, predicts nothing.
    """

    def __init__(
        self,
        store: Any,
        space: SearchSpace[Any],
        key: MeasurementKey,
        min_examples: int = MIN_EXAMPLES,
        refit_every: int = 5,
    ) -> None:
        self.store, self.space, self.key = store, space, key
        self.min_examples, self.refit_every = min_examples, refit_every
        self.current: KeyPredictor | None = None
        self._timed_since_fit = 0
        self.refresh()

    def refresh(self) -> None:
        try:
            fitted = load_predictor(self.store, self.space, self.key)
        except UserError:
            fitted = None
        ready = fitted is not None and fitted.predictor.profiled >= self.min_examples
        self.current = fitted if ready else None
        self._timed_since_fit = 0

    def timed(self) -> None:
        """Count a new measurement of the key; refit once enough have arrived."""
        self._timed_since_fit += 1
        if self._timed_since_fit >= self.refit_every:
            self.refresh()

    def predict(self, config: Any) -> dict[str, Any] | None:
        """The prediction as stored with a trial and its measurement, or None (not ready)."""
        if self.current is None:
            return None
        prediction = self.current.predict(config).to_dict()
        prediction["examples"] = self.current.examples
        return prediction
