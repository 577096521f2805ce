"""``run_search``: set up the study, the pool and the loop, and record how it ended."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lce_nas.engine.measurement import DEFAULT_DEPLOY_SHAPE
from lce_nas.search.fidelity import TOP_SEEDS, Ladder, proxy_steps
from lce_nas.search.front import StudyFront
from lce_nas.search.loop import SearchLoop
from lce_nas.search.progress import Reporter, SearchStats
from lce_nas.search.results import load_front
from lce_nas.search.samplers import DEFAULT_SAMPLER, make_sampler
from lce_nas.search.study import (
    StudyMeta,
    enqueue_presets,
    open_study,
    recover_interrupted,
)
from lce_nas.space.shape import DeployShape
from lce_nas.workers.trainer import ProxySettings

from lce_nas.errors import UserError

# The out-of-the-box budget (neither --trials nor --time-budget given): a first
# front on two cores within a quarter of an hour. Proposals stop at 12 minutes
# because what is in flight then still finishes, the presets' top rung included
# (about 2.5 minutes of the default ladder's training on two cores).
DEFAULT_TRIALS = 10
DEFAULT_TIME_BUDGET_S = 12 * 60.0
DEFAULT_PARALLEL = 2
DEFAULT_MAX_FAILURES = 5


@dataclass(frozen=True)
class SearchSettings:
    """Everything that shapes a search (the CLI's flags, as one value).

    Example:
        >>> SearchSettings(study_name="demo", trials=6, parallel=2).sampler
        'tpe'
    """

    study_name: str
    space: str = "quicknet"
    device: str = "host"
    #: ``HxWxC/classes`` the deploy models are built and timed at (part of the latency key).
    deploy_shape: str = DEFAULT_DEPLOY_SHAPE
    sampler: str = DEFAULT_SAMPLER
    trials: int | None = DEFAULT_TRIALS
    time_budget_s: float | None = None
    parallel: int = DEFAULT_PARALLEL
    max_latency_ms: float | None = None
    max_size_mb: float | None = None
    #: Skip candidates predicted to be over the limit (see :mod:`lce_nas.predictor`).
    predictor: bool = True
    #: Profiled models the key needs before predictions skip anything (None: the default).
    predictor_min_models: int | None = None
    dataset: str = "fashion-mnist"
    proxy: ProxySettings = field(default_factory=ProxySettings)
    #: Multi-fidelity training (see :mod:`lce_nas.search.fidelity`): the top rung's
    #: optimizer steps; None trains every candidate once with ``proxy``.
    max_steps: int | None = None
    #: The lowest rung's steps at least (default: ``proxy``'s steps).
    min_steps: int | None = None
    eta: float = 3.0
    #: One width for every rung, or one per rung (default: ``proxy``'s width).
    widths: tuple[float, ...] = ()
    top_seeds: int = TOP_SEEDS
    seed: int | None = 0
    max_consecutive_failures: int = DEFAULT_MAX_FAILURES
    ray_address: str | None = None
    trainer_gpus: float = 0.0
    device_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", self.study_name):
            raise UserError(
                f"--study-name {self.study_name!r}: use letters, digits, '.', '_' and '-'"
            )
        DeployShape.from_label(self.deploy_shape)  # a bad shape fails before anything starts
        if self.trials is None and self.time_budget_s is None:
            raise UserError("give a budget: --trials N and/or --time-budget (e.g. 2h)")
        for name in ("trials", "parallel", "max_consecutive_failures"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        for name in ("max_latency_ms", "max_size_mb", "time_budget_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")
        self.ladder()  # a ladder that cannot be built fails before anything starts

    def ladder(self) -> Ladder:
        """The rungs every candidate may climb (one rung without ``max_steps``).

        Example:
            >>> [r.steps for r in SearchSettings("demo", max_steps=1125).ladder().rungs]
            [125, 375, 1125]
        """
        if self.max_steps is None:
            if self.min_steps is not None:
                raise UserError("--min-steps needs --max-steps (the top rung's steps)")
            return Ladder.single(self.proxy)
        return Ladder.geometric(
            self.proxy,
            min_steps=proxy_steps(self.proxy) if self.min_steps is None else self.min_steps,
            max_steps=self.max_steps,
            eta=self.eta,
            widths=self.widths,
            top_seeds=self.top_seeds,
        )

    def arguments(self) -> dict[str, Any]:
        """JSON-able arguments, as recorded in the database's ``searches`` table."""
        data = asdict(self)
        data["proxy"] = self.proxy.to_dict()
        return data


@dataclass
class SearchOutcome:
    """How a search ended, with its results."""

    stats: SearchStats
    results: StudyFront
    resumed: bool
    requeued: list[int]
    status: str
    placements: dict[str, dict[str, int]] = field(default_factory=dict)
    resubmitted: dict[str, int] = field(default_factory=dict)


class _Silent:
    def update(self, stats: SearchStats, total: int | None) -> None:
        pass

    def log(self, line: str) -> None:
        pass


def run_search(
    settings: SearchSettings, db_url: str, reporter: Reporter | None = None
) -> SearchOutcome:
    """Run (or resume) a search to its budget and return the study's results.

    Example:
        >>> settings = SearchSettings("demo", trials=6)
        >>> outcome = run_search(settings, "sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> len(outcome.results.front) > 0  # doctest: +SKIP
        True
    """
    from lce_nas.engine import measurement_key
    from lce_nas.engine.devices import get_device
    from lce_nas.latency_db import LatencyStore
    from lce_nas.space import get_space
    from lce_nas.workers import Pool
    from lce_nas.workers.datasets import dataset_name

    reporter = reporter or _Silent()
    space = get_space(settings.space)
    device = get_device(settings.device, **settings.device_overrides)
    key = measurement_key(device, settings.deploy_shape)
    dataset_key = dataset_name(settings.dataset)
    store = LatencyStore(db_url)
    presets = space.presets()
    meta = StudyMeta(
        space=space.name,
        space_version=space.version,
        device=device.name,
        measurement_key=key.to_dict(),
        dataset=dataset_key,
        proxy_settings=settings.proxy.to_dict(),
        constraints={
            "max_latency_ms": settings.max_latency_ms,
            "max_size_mb": settings.max_size_mb,
        },
        sampler=settings.sampler,
        seed=settings.seed,
        presets={name: space.fingerprint(c) for name, c in presets.items()},
        ladder=settings.ladder().to_dict(),
    )
    sampler = make_sampler(settings.sampler, settings.seed)
    study, resumed = open_study(db_url, settings.study_name, meta, sampler)
    requeued = recover_interrupted(study) if resumed else []
    if not resumed:
        enqueue_presets(study, space, presets)
    store.record_device(device.name, device.kind, device.to_spec())
    store.record_search(
        settings.study_name,
        settings.study_name,
        space.name,
        device.name,
        settings.arguments(),
        status="running",
    )
    pool = Pool(
        device,
        db_url,
        dataset=settings.dataset,
        proxy=settings.proxy,
        ray_address=settings.ray_address,
        trainer_gpus=settings.trainer_gpus,
        notify=reporter.log,
    )
    predictor = None
    if settings.predictor:
        from lce_nas.predictor.service import MIN_EXAMPLES, SearchPredictor

        predictor = SearchPredictor(
            store, space, key, settings.predictor_min_models or MIN_EXAMPLES
        )
    loop = SearchLoop(study, space, pool, store, settings, key, reporter, predictor)
    status = "failed"
    try:
        stats = loop.run()
        status = "failed" if "failed trials in a row" in stats.stop_reason else "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        store.set_search_status(settings.study_name, status)
        pool.shutdown()
        store.close()
    return SearchOutcome(
        stats,
        load_front(db_url, settings.study_name),
        resumed,
        requeued,
        status,
        placements=pool.placement_summary(),
        resubmitted=dict(pool.resubmitted),
    )
