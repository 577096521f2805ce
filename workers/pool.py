"""The pool: proxy trainers and device workers on Ray, submitted independently.

Accuracy (a Ray task per candidate) and latency (a call on the device's
actor) are separate futures, so training one candidate overlaps timing
another. A local Ray, closed to others, is started unless an address is given
(see :mod:`lce_nas.workers.ray_setup`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lce_nas.workers.ray_setup import LocalRay, join_cluster

from lce_nas.errors import UserError

if TYPE_CHECKING:
    from lce_nas.engine.devices import Device
    from lce_nas.workers.trainer import ProxySettings

# Ray restarts a dead trainer or device worker this many times before the
# candidate is reported as failed.
RETRIES = 2
# A candidate whose worker was lost with its node is submitted anew this many
# more times, beyond Ray's own retries, waiting longer each time (seconds) for
# the cluster to notice the loss and for a node that can host it.
NODE_LOSS_RESUBMITS = 6
NODE_LOSS_BACKOFF_S = (2.0, 5.0, 10.0, 20.0, 40.0, 60.0)
_NAMESPACE = "lce_nas"
# How often the pool looks for a node that owns the device while none does.
_DEVICE_POLL_S = 2.0


def device_resource(device_name: str) -> str:
    """The Ray custom resource a node advertises when it owns the device.

    Example:
        >>> device_resource("rpi4")
        'device:rpi4'
    """
    return f"device:{device_name}"


@dataclass(frozen=True)
class AccuracyResult:
    """A trainer's answer: the evaluation, whether it was cached, and when it ran."""

    evaluation: Any
    cached: bool
    started: float
    finished: float
    node_id: str = ""


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
    timing_resource: str,
    lookup: bool = True,
):
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    # On the node that times on its own CPU, keep the trainer off the timing
    # cores, before TensorFlow sizes its thread pools from the affinity mask.
    if avoid_cpus and _node_has(node_id, timing_resource):
        allowed = set(os.sched_getaffinity(0)) - set(avoid_cpus)
        if allowed:
            os.sched_setaffinity(0, allowed)
    import time

    from lce_nas.latency_db.connect import expect_reachable
    from lce_nas.workers.trainer import train_proxy

    expect_reachable(store_url)
    started = time.time()
    result = train_proxy(space_name, params, settings, dataset, store_url=store_url, lookup=lookup)
    return AccuracyResult(result.evaluation, result.cached, started, time.time(), node_id)


def _node_has(node_id: str, resource: str) -> bool:
    import ray

    return any(
        n["NodeID"] == node_id and n.get("Resources", {}).get(resource, 0) > 0 for n in ray.nodes()
    )


def _lost_with_node(error: BaseException) -> bool:
    """Whether a worker's failure is its node's (resubmit) rather than the candidate's."""
    from ray import exceptions as rx

    if isinstance(
        error,
        rx.NodeDiedError
        | rx.ActorDiedError
        | rx.ActorUnavailableError
        | rx.ObjectLostError
        | rx.LocalRayletDiedError,
    ):
        return True
    if isinstance(error, rx.WorkerCrashedError):
        # A crash on a healthy cluster is the candidate's own (e.g. a bad model).
        import ray

        return any(not n["Alive"] for n in ray.nodes())
    return False


class Pool:
    """Trainers and one device worker, on a local Ray or an existing cluster.

    Example:
        >>> pool = Pool(get_device("host"), "sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> acc = pool.submit_accuracy("quicknet", params)  # doctest: +SKIP
        >>> lat = pool.submit_latency("quicknet", params)  # doctest: +SKIP
        >>> acc.result().top1, lat.result().measurement.median_ms  # doctest: +SKIP
        (0.71, 8.4)
        >>> pool.shutdown()  # doctest: +SKIP

    Trainers run wherever Ray has CPUs (and GPUs, with ``trainer_gpus``); the
    device worker runs on the node that advertises the custom resource
    ``device:NAME`` (a local Ray advertises it itself), and the pool waits,
    saying so through ``notify``, while no node does. On the node that owns
    the host device, its reserved cores are kept out of every trainer's
    affinity mask, so training never shares the timing core; a local Ray also
    leaves them out of its CPU count (a cluster node: ``ray start --num-cpus``).
    A trainer or device worker lost with its node is retried by Ray, then
    submitted anew (``resubmitted`` counts those).
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
        notify: Callable[[str], None] | None = None,
        device_wait_s: float | None = None,
    ) -> None:
        import ray
        from lce_nas.workers.device import DeviceWorker
        from lce_nas.workers.trainer import ProxySettings

        self.device = device
        self.store_url = _absolute_sqlite(store_url)
        self.dataset = dataset
        self.proxy = proxy or ProxySettings()
        self.notify = notify or (lambda line: logging.getLogger(__name__).warning(line))
        self.resource = device_resource(device.name)
        self.reserved_cpus: tuple[int, ...] = device.reserved_cpus
        self.resubmitted: Counter[str] = Counter()
        self.placements: dict[str, Counter[str]] = {"training": Counter(), "timing": Counter()}
        self._local: LocalRay | None = None
        self._joined = False
        if not ray.is_initialized():
            if ray_address is None:
                total = len(os.sched_getaffinity(0))
                self._local = LocalRay(
                    num_cpus=max(1, total - len(self.reserved_cpus)),
                    resources={self.resource: 1},
                )
                self._local.start(secrets_=_secrets_of(self.store_url))
            else:
                join_cluster(ray_address, self.notify)
                self._joined = True
        # The URL (with any password) reaches workers as an argument (the actor's
        # inline, the tasks' through the object store), never in an environment.
        self._url_ref = ray.put(self.store_url)
        self._train = ray.remote(num_cpus=trainer_cpus, num_gpus=trainer_gpus, max_retries=RETRIES)(
            _train_remote
        )
        # Restarts are unlimited: only a node that owns the device can host the
        # actor, and it may come back; each call still has a bounded retry count.
        actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=RETRIES)(DeviceWorker)
        self.device_worker = actor.options(
            name=f"device:{device.name}",
            namespace=_NAMESPACE,
            get_if_exists=True,
            resources={self.resource: 1},
        ).remote(device, self.store_url, self.reserved_cpus)
        self._wait_for_device(device_wait_s)
        if self._joined and device.kind == "host":
            self.device_worker.placement.remote().future().add_done_callback(
                self._check_timing_core
            )

    def _wait_for_device(self, timeout_s: float | None) -> None:
        import ray

        if ray.cluster_resources().get(self.resource, 0) > 0:
            return
        self.notify(
            f"waiting for a Ray node that owns device {self.device.name!r}: start one on the "
            f"machine the device is on with `ray start --address ADDRESS --resources "
            f"'{{\"{self.resource}\": 1}}'`"
        )
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while ray.cluster_resources().get(self.resource, 0) <= 0:
            if deadline is not None and time.monotonic() > deadline:
                raise UserError(
                    f"no Ray node advertised {self.resource} within {timeout_s:.0f} s; "
                    f"start one with --resources '{{\"{self.resource}\": 1}}'"
                )
            time.sleep(_DEVICE_POLL_S)
        self.notify(f"a Ray node owns device {self.device.name!r}; going on")

    def _check_timing_core(self, placed: Future) -> None:
        """Warn when the node that times on its own CPU lends its timing core to Ray."""
        import ray

        if placed.exception() is not None:
            return  # the first timing will say what is wrong
        node_id, cores = placed.result()
        cpus = next(
            (n["Resources"].get("CPU", 0) for n in ray.nodes() if n["NodeID"] == node_id), 0
        )
        spare = max(1, cores - len(self.reserved_cpus))
        if cpus > spare:
            self.notify(
                f"warning: the node that times on its CPU gives Ray {cpus:g} CPUs of its "
                f"{cores} cores, so trainers may share the timing core; restart it with "
                f"ray start --num-cpus {spare}"
            )

    def submit_accuracy(
        self,
        space_name: str,
        params: dict[str, Any],
        *,
        lookup: bool = True,
        settings: ProxySettings | None = None,
    ) -> Future:
        """Train the candidate's proxy (or find it in the database): a future AccuracyResult.

        ``settings``: the training's budget and seed (a rung's), default the pool's
        proxy. ``lookup=False``: the caller looked the accuracy up already (a miss)
        and stored the architecture, so the trainer only trains and records.
        """
        proxy = self.proxy if settings is None else settings
        return self._resilient(
            "training",
            lambda: self._train.remote(
                space_name,
                params,
                proxy,
                self.dataset,
                self._url_ref,
                self.reserved_cpus,
                self.resource,
                lookup,
            ),
        )

    def submit_latency(self, space_name: str, params: dict[str, Any], **options: Any) -> Future:
        """Time the candidate on the pool's device, built at ``deploy_shape`` (``HxWxC/N``).

        Returns a future of its ``LatencyResult``; ``options`` are the keywords of
        :func:`~lce_nas.workers.device.time_candidate`. ``lookup=False``: as for
        :meth:`submit_accuracy`, the caller did the cache lookup and stored the
        architecture; the device worker still re-checks the latency cache on its
        own queue before timing (see :func:`~lce_nas.workers.device.time_candidate`).
        """
        return self._resilient(
            "timing",
            lambda: self.device_worker.latency.remote(space_name, params, **options),
        )

    def _resilient(self, stage: str, submit: Callable[[], Any]) -> Future:
        """A future of ``submit()``'s result that survives losing the node it ran on."""
        outer: Future = Future()

        def attempt(number: int) -> None:
            def settle(inner: Future) -> None:
                if outer.done():
                    return
                error = inner.exception()
                if error is None:
                    result = inner.result()
                    self.placements[stage][getattr(result, "node_id", "") or "?"] += 1
                    _settle(outer, result=result)
                elif number < NODE_LOSS_RESUBMITS and _lost_with_node(error):
                    self.resubmitted[stage] += 1
                    delay = NODE_LOSS_BACKOFF_S[min(number, len(NODE_LOSS_BACKOFF_S) - 1)]
                    self.notify(
                        f"a {stage} worker was lost with its node ({failure_reason(error)}); "
                        f"submitting it again in {delay:g} s"
                    )
                    # Not in this callback's thread: it is Ray's, and must not sleep.
                    timer = threading.Timer(delay, attempt, (number + 1,))
                    timer.daemon = True
                    timer.start()
                else:
                    _settle(outer, error=error)

            submit().future().add_done_callback(settle)

        attempt(0)
        return outer

    def placement_summary(self) -> dict[str, dict[str, int]]:
        """Where candidates ran: per stage, completed calls per node (short node ids)."""
        return {
            stage: {node[:8]: n for node, n in sorted(counts.items())}
            for stage, counts in self.placements.items()
        }

    def shutdown(self) -> None:
        """Stop the local Ray this pool started; leave a joined cluster running."""
        import ray

        if self._local is not None:
            self._local.stop()
            self._local = None
        elif self._joined and ray.is_initialized():
            ray.shutdown()  # disconnects this driver only
            self._joined = False

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _settle(future: Future, result: Any = None, error: BaseException | None = None) -> None:
    # The search may have cancelled the future meanwhile: then nobody waits for it.
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _secrets_of(url: str) -> tuple[str, ...]:
    """The password in a database URL, if any: what Ray's processes must never see."""
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL carries no password we could find
        return ()
    return (str(password),) if password else ()


def _absolute_sqlite(url: str) -> str:
    # Ray workers may start in another directory: pin relative SQLite paths.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path, sep, query = url[len(prefix) :].partition("?")
        return prefix + os.path.abspath(path) + sep + query
    return url
