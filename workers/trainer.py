"""The proxy trainer: a candidate's small network trained briefly on real images.

:func:`train_proxy` is a plain function (the pool wraps it in a Ray task).
It builds ``space.build_proxy(config)`` at the dataset's input size, trains it
with larq/Keras for :class:`ProxySettings` and returns the validation top-1.
With a database URL it first looks the result up by (fingerprint, dataset,
settings hash) and records what it trains.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from lce_nas.latency_db.records import AccuracyEvaluation
from lce_nas.workers.datasets import DEFAULT_DATASET, dataset_name, load_dataset

from lce_nas.errors import UserError

OPTIMIZERS = ("adam", "bop")
# Bumped when a change to the training recipe makes old results incomparable;
# it is part of the settings' hash, so such results are no longer cache hits.
RECIPE_VERSION = 2  # 2: proxy widths on a grid of 4 channels, not 8


@dataclass(frozen=True)
class ProxySettings:
    """How a proxy is trained; :meth:`to_dict` is hashed into the accuracy cache key.

    The defaults were chosen with ``benchmarks/proxy_fidelity.py`` (see the
    README): 125 steps of 16 images at 1/16 of the candidate's widths rank 12
    sampled architectures like a training with 4x the epochs and 4x the
    images (Kendall's tau 0.94), at 14-97 s per candidate on 2 busy cores.
    The accuracies themselves are low (0.11-0.60 on Fashion-MNIST): they rank
    candidates; they do not tell a model's quality.

    Attributes:
        epochs: passes over the training subset.
        subset: training images (a seed-dependent subset of the training split).
        batch_size: images per step; the step count matters more than the images.
        width: multiplier of every width of the candidate (see ``build_proxy``).
        seed: seeds the subset, the weights' initialisation and the shuffling.
        optimizer: ``adam`` (Adam with cosine decay) or ``bop`` (larq's Bop for
            the binary weights, Adam with cosine decay for the others).
        learning_rate: Adam's initial learning rate.
        validation_images: size of the validation split carved from the training set.
        bop_gamma, bop_threshold: Bop's adaptivity rate and flip threshold.

    Example:
        >>> ProxySettings(epochs=1).to_dict()["epochs"]
        1
    """

    epochs: int = 1
    subset: int = 2000
    batch_size: int = 16
    width: float = 0.0625
    seed: int = 0
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    validation_images: int = 5000
    bop_gamma: float = 1e-4
    bop_threshold: float = 1e-8

    def __post_init__(self) -> None:
        checks = (
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.subset >= 1, "subset must be at least 1 image"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.width > 0, "width must be positive"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.learning_rate > 0, "learning rate must be positive"),
            (self.validation_images >= 1, "validation images must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise UserError(f"{message} (proxy settings {self.to_dict()})")

    def to_dict(self) -> dict[str, Any]:
        """All settings plus the recipe version, JSON-serialisable.

        Bop's settings are left out for Adam, so they do not split Adam's cache.
        """
        data = dataclasses.asdict(self)
        if self.optimizer != "bop":
            del data["bop_gamma"], data["bop_threshold"]
        data["recipe"] = RECIPE_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProxySettings:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> ProxySettings:
        """A copy with some settings changed (``None`` values are ignored).

        Example:
            >>> ProxySettings().replace(epochs=2, subset=None).epochs
            2
        """
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class TrainingResult:
    """A proxy's evaluation, and whether it came from the database without training.

    Example:
        >>> ev = AccuracyEvaluation("ab" * 32, "fashion-mnist", {}, top1=0.7, epochs=3)
        >>> TrainingResult(ev, cached=True).accuracy_attrs()["top1"]
        0.7
    """

    evaluation: AccuracyEvaluation
    cached: bool = False

    @property
    def top1(self) -> float:
        """Validation top-1 accuracy, 0..1."""
        return self.evaluation.top1

    def accuracy_attrs(self) -> dict[str, Any]:
        """The ``accuracy`` entry of a trial's user attributes."""
        ev = self.evaluation
        return {
            "top1": ev.top1,
            "loss": ev.loss,
            "epochs": ev.epochs,
            "train_seconds": ev.train_seconds,
        }


def train_proxy(
    space_name: str,
    config_params: dict[str, Any],
    settings: ProxySettings | None = None,
    dataset_spec: str = DEFAULT_DATASET,
    store_url: str | None = None,
    lookup: bool = True,
) -> TrainingResult:
    """Train a candidate's proxy and return its validation accuracy (cached when known).

    ``lookup=False`` is for a caller that has looked the cache up already (a
    miss) and stored the architecture: the trainer only trains and records.

    Example:
        >>> r = train_proxy("quicknet", {"section_blocks": [1, 1, 1, 1]},
        ...                 ProxySettings(epochs=1, subset=2000))  # doctest: +SKIP
        >>> r.top1 > 0.3, r.cached  # doctest: +SKIP
        (True, False)
    """
    from lce_nas.space import get_space

    settings = settings or ProxySettings()
    space = get_space(space_name)
    config = space.config_from_params(config_params)
    fingerprint = space.fingerprint(config)
    dataset = dataset_name(dataset_spec)
    store = None
    if store_url is not None:
        from lce_nas.latency_db import open_store

        store = open_store(store_url)
        known = store.lookup_accuracy(fingerprint, dataset, settings.to_dict()) if lookup else None
        if known is not None:
            return TrainingResult(known, cached=True)
    evaluation = _train(space, config, fingerprint, settings, dataset_spec)
    if store is not None:
        if lookup:
            store.record_config(space, config)
        evaluation = store.record_accuracy(evaluation)
    return TrainingResult(evaluation, cached=False)


def allowed_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which Ray's pinning sets).

    Example:
        >>> allowed_cpus() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(cpus: int | None = None) -> int:
    """Size TensorFlow's thread pools to the allowed CPUs; returns the count used.

    TensorFlow fixes its pools when its runtime starts, so in a process that
    already ran TensorFlow this keeps the earlier sizes.
    """
    import tensorflow as tf

    cpus = cpus or allowed_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        return tf.config.threading.get_intra_op_parallelism_threads() or cpus
    return cpus


def _train(
    space: Any, config: Any, fingerprint: str, settings: ProxySettings, dataset_spec: str
) -> AccuracyEvaluation:
    configure_threads()
    import tensorflow as tf

    data = load_dataset(dataset_spec, settings.validation_images)
    x_train, y_train = data.train_subset(settings.subset, settings.seed)
    x_val, y_val = data.validation()
    started = time.perf_counter()
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(settings.seed)
    model = space.build_proxy(config, data.input_shape, data.classes, settings.width)
    steps = settings.epochs * math.ceil(len(y_train) / settings.batch_size)
    fit(model, make_optimizer(settings, steps), x_train, y_train, settings)
    loss, top1 = evaluate(model, x_val, y_val)
    return AccuracyEvaluation(
        fingerprint=fingerprint,
        dataset=dataset_name(dataset_spec),
        proxy_settings=settings.to_dict(),
        top1=top1,
        loss=loss,
        epochs=settings.epochs,
        seed=settings.seed,
        train_seconds=time.perf_counter() - started,
    )


def _signature(x: Any) -> list[Any]:
    import tensorflow as tf

    return [
        tf.TensorSpec((None, *x.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]


def fit(model: Any, optimizer: Any, x: Any, y: Any, settings: ProxySettings) -> None:
    """Train ``model`` on (x, y) for the settings' epochs, shuffled by their seed.

    A plain loop around one graph-compiled step, not ``Model.fit``: tracing a
    deep larq network through AutoGraph costs tens of seconds per candidate,
    more than a short proxy's training itself; the step has no Python control
    flow, so it is traced without AutoGraph (and once: any batch size).
    """
    import numpy as np
    import tensorflow as tf

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

    @tf.function(autograph=False, input_signature=_signature(x))
    def step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
            if model.losses:
                loss += tf.add_n(model.losses)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    order_rng = np.random.default_rng(settings.seed)
    for _ in range(settings.epochs):
        order = order_rng.permutation(len(y))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            step(x[batch], y[batch])


def evaluate(model: Any, x: Any, y: Any, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy of ``model`` on (x, y)."""
    import numpy as np
    import tensorflow as tf

    @tf.function(autograph=False, input_signature=_signature(x))
    def scores(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        probabilities = model(images, training=False)
        losses = tf.keras.losses.sparse_categorical_crossentropy(labels, probabilities)
        hits = tf.cast(
            tf.equal(tf.argmax(probabilities, axis=-1, output_type=tf.int32), labels), tf.float32
        )
        return tf.reduce_sum(losses), tf.reduce_sum(hits)

    total_loss, total_hits = 0.0, 0.0
    for start in range(0, len(y), batch_size):
        loss, hits = scores(x[start : start + batch_size], y[start : start + batch_size])
        total_loss += float(loss)
        total_hits += float(hits)
    loss = total_loss / max(len(y), 1)
    return (loss if np.isfinite(loss) else float("nan")), total_hits / max(len(y), 1)


def make_optimizer(settings: ProxySettings, steps: int) -> Any:
    """Adam with cosine decay over ``steps``, or larq's Bop for binary weights plus that Adam."""
    import tensorflow as tf

    schedule = tf.keras.optimizers.schedules.CosineDecay(settings.learning_rate, max(steps, 1))
    if settings.optimizer == "adam":
        return tf.keras.optimizers.Adam(schedule)
    import larq as lq

    # larq's CaseOptimizer only takes Keras' legacy optimizers.
    return lq.optimizers.CaseOptimizer(
        (
            lq.optimizers.Bop.is_binary_variable,
            lq.optimizers.Bop(threshold=settings.bop_threshold, gamma=settings.bop_gamma),
        ),
        default_optimizer=tf.keras.optimizers.legacy.Adam(schedule),
    )
