"""The pool: proxy trainers and device workers on Ray, submitted independently.

Accuracy (a Ray task per candidate) and latency (a call on the device's
actor) are separate futures, so training one candidate overlaps timing
another. A local Ray is started unless an address is given.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE

from lce_nas.errors import UserError

if TYPE_CHECKING:
    from lce_nas.engine.devices import Device
    from lce_nas.workers.trainer import ProxySettings

# Ray restarts a dead trainer or device worker this many times before the
# candidate is reported as failed.
RETRIES = 2
_NAMESPACE = "lce_nas"
# Environment every Ray worker starts with: Keras 2 for larq, quiet TensorFlow.
_WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


@dataclass(frozen=True)
class AccuracyResult:
    """A trainer's answer: the evaluation, whether it was cached, and when it ran."""

    evaluation: Any
    cached: bool
    started: float
    finished: float


@dataclass(frozen=True)
class WorkerFailure:
    """Why a candidate could not be evaluated, after Ray's retries."""

    stage: str
    reason: str

    def __str__(self) -> str:
        return f"{self.stage} failed: {self.reason}"


def failure_reason(error: BaseException) -> str:
    """One line for a worker's exception, without Ray's wrapping and traceback."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    line = text[-1] if text else ""
    return f"{type(cause).__name__}: {line}" if line else type(cause).__name__


def _train_remote(
    space_name: str,
    params: dict[str, Any],
    settings: ProxySettings,
    dataset: str,
    store_url: str,
    avoid_cpus: tuple[int, ...],
):
    # Keep the trainer off the cores reserved for timing, before TensorFlow
    # sizes its thread pools from the affinity mask.
    if avoid_cpus:
        allowed = set(os.sched_getaffinity(0)) - set(avoid_cpus)
        if allowed:
            os.sched_setaffinity(0, allowed)
    import time

    from lce_nas.workers.trainer import train_proxy

    started = time.time()
    result = train_proxy(space_name, params, settings, dataset, store_url=store_url)
    return AccuracyResult(result.evaluation, result.cached, started, time.time())


class Pool:
    """Trainers and one device worker, on a local Ray or an existing cluster.

    Example:
        >>> pool = Pool(get_device("host"), "sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> acc = pool.submit_accuracy("quicknet", params)  # doctest: +SKIP
        >>> lat = pool.submit_latency("quicknet", params)  # doctest: +SKIP
        >>> acc.result().top1, lat.result().measurement.median_ms  # doctest: +SKIP
        (0.71, 8.4)
        >>> pool.shutdown()  # doctest: +SKIP

    On a local Ray, the host device's reserved cores are left out of Ray's CPU
    count and out of every trainer's affinity mask, so training never shares
    the timing core. Joining a cluster (``ray_address``) uses its resources
    as they are: start its head with ``--num-cpus`` excluding the timing core.
    """

    def __init__(
        self,
        device: Device,
        store_url: str,
        *,
        dataset: str = "fashion-mnist",
        proxy: ProxySettings | None = None,
        ray_address: str | None = None,
        trainer_cpus: float = 1.0,
        trainer_gpus: float = 0.0,
    ) -> None:
        import ray
        from lce_nas.workers.device import DeviceWorker
        from lce_nas.workers.trainer import ProxySettings

        self.device = device
        self.store_url = _absolute_sqlite(store_url)
        self.dataset = dataset
        self.proxy = proxy or ProxySettings()
        self._owns_ray = False
        self.reserved_cpus: tuple[int, ...] = device.reserved_cpus if ray_address is None else ()
        if not ray.is_initialized():
            self._owns_ray = True
            _init_ray(ray_address, self.reserved_cpus)
        self._train = ray.remote(num_cpus=trainer_cpus, num_gpus=trainer_gpus, max_retries=RETRIES)(
            _train_remote
        )
        actor = ray.remote(num_cpus=0, max_restarts=RETRIES, max_task_retries=RETRIES)(DeviceWorker)
        self.device_worker = actor.options(
            name=f"device:{device.name}", namespace=_NAMESPACE, get_if_exists=True
        ).remote(device, self.store_url, self.reserved_cpus)

    def submit_accuracy(self, space_name: str, params: dict[str, Any]) -> Future:
        """Train the candidate's proxy (or find it in the database): a future AccuracyResult."""
        ref = self._train.remote(
            space_name, params, self.proxy, self.dataset, self.store_url, self.reserved_cpus
        )
        return ref.future()

    def submit_latency(
        self,
        space_name: str,
        params: dict[str, Any],
        *,
        fresh: bool = False,
        profile: bool | None = None,
        deploy_shape: str = DEFAULT_DEPLOY_SHAPE,
    ) -> Future:
        """Time the candidate on the pool's device, built at ``deploy_shape`` (``HxWxC/N``).

        Returns a future of its ``LatencyResult``.
        """
        return self.device_worker.latency.remote(
            space_name, params, fresh, profile, deploy_shape
        ).future()

    def shutdown(self) -> None:
        """Stop the local Ray this pool started (a joined cluster keeps running)."""
        import ray

        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _absolute_sqlite(url: str) -> str:
    # Ray workers may start in another directory: pin relative SQLite paths.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path, sep, query = url[len(prefix) :].partition("?")
        return prefix + os.path.abspath(path) + sep + query
    return url


def _init_ray(address: str | None, reserved_cpus: tuple[int, ...]) -> None:
    import ray

    # The tool's own settings (LCE_NAS_*) reach workers on any cluster.
    env = {k: v for k, v in os.environ.items() if k.startswith("LCE_NAS_")}
    runtime_env = {"env_vars": {**env, **_WORKER_ENV}}
    try:
        if address is None:
            total = len(os.sched_getaffinity(0))
            ray.init(
                num_cpus=max(1, total - len(reserved_cpus)),
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
                runtime_env=runtime_env,
            )
        else:
            ray.init(
                address=address,
                logging_level=logging.ERROR,
                log_to_driver=False,
                runtime_env=runtime_env,
            )
    except ConnectionError as err:
        raise UserError(
            f"cannot join the Ray cluster at {address}: {err} "
            "(check the address, or leave out --ray-address to start a local Ray)"
        ) from None
