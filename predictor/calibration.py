"""Configs spread over a space, to measure before a search so the predictor can start.

Sampled uniformly as the space's own ``suggest`` does (an Optuna random
sampler with a seed), kept only where their operation count is within
``max_ops_ratio`` times the largest preset's: a model several times slower
than every preset can never reach a front, and converting one costs minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lce_nas.space.base import ArchSummary, SearchSpace
from lce_nas.space.shape import DeployShape

#: Binary MACs per full-precision MAC in the usual BNN operation count (Bi-Real Net, ReActNet).
BINARY_OPS_PER_FLOAT = 64


def op_count(summary: ArchSummary) -> float:
    """Operations of a BNN as the literature counts them: binary MACs / 64 + float MACs.

    Example:
        >>> op_count(ArchSummary(0, binary_macs=6400, float_macs=100, packed_bytes=0))
        200.0
    """
    return summary.binary_macs / BINARY_OPS_PER_FLOAT + float(summary.float_macs)


def calibration_configs(
    space: SearchSpace[Any],
    n: int,
    seed: int = 0,
    shape: DeployShape | None = None,
    max_ops_ratio: float = 4.0,
    max_draws: int = 100_000,
) -> Iterator[Any]:
    """``n`` distinct configs of ``space`` (same seed, same configs) within the op bound.

    Example:
        >>> from lce_nas.space import get_space
        >>> configs = list(calibration_configs(get_space("quicknet"), 3, seed=1))
        >>> len({get_space("quicknet").fingerprint(c) for c in configs})
        3
    """
    import optuna

    shape = shape or DeployShape()
    describe = lambda config: space.describe(config, shape.input_shape, shape.classes)  # noqa: E731
    limit = max_ops_ratio * max(op_count(describe(p)) for p in space.presets().values())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen: set[str] = set()
    for _ in range(max_draws):
        if len(seen) >= n:
            return
        trial = study.ask()
        config = space.suggest(trial)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        fingerprint = space.fingerprint(config)
        if fingerprint in seen or op_count(describe(config)) > limit:
            continue
        seen.add(fingerprint)
        yield config


#: Models one process builds and converts before a fresh one takes over (TensorFlow
#: keeps about 0.2 GB of every model it has built and converted).
MODELS_PER_PROCESS = 8


def _time_batch(
    space_name: str, batch: list[dict[str, Any]], device: Any, store_url: str, deploy_shape: str
) -> list[tuple[str, bool, float]]:
    from lce_nas.workers.device import time_candidate

    results = []
    for params in batch:
        result = time_candidate(space_name, params, device, store_url, deploy_shape=deploy_shape)
        results.append((result.fingerprint, result.cached, result.measurement.median_ms))
    return results


def measure_configs(
    space: SearchSpace[Any],
    configs: list[Any],
    device: Any,
    store_url: str,
    shape: DeployShape | None = None,
    on_result: Any = None,
) -> list[tuple[str, bool, float]]:
    """Time ``configs`` on ``device`` with per-op profiles, as a search's device worker does.

    Each model is answered from the database when its key is there (so a
    calibration that stopped resumes where it was); new ones are built,
    converted and timed in fresh processes, :data:`MODELS_PER_PROCESS` at a
    time. Returns ``(fingerprint, cached, median_ms)`` per config, in order;
    ``on_result`` is called with each as it arrives.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    shape = shape or DeployShape()
    params = [space.to_params(c) for c in configs]
    step = MODELS_PER_PROCESS
    batches = [params[i : i + step] for i in range(0, len(params), step)]
    context = multiprocessing.get_context("spawn")
    out: list[tuple[str, bool, float]] = []
    # One process at a time: the device is timed by one model at a time anyway.
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        for batch in batches:
            results = pool.submit(
                _time_batch, space.name, batch, device, store_url, shape.label
            ).result()
            for result in results:
                out.append(result)
                if on_result is not None:
                    on_result(result)
    return out
