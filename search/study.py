"""The Optuna study behind a search: creation, metadata, resume and recovery.

Every search is an Optuna study in RDBStorage on the latency database's URL,
so optuna-dashboard reads it too. What lce-nas adds to Optuna's records is
kept as JSON in user attributes (see the README's "What a search stores").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from lce_nas.search.record import FAILURE, PRESET, write_failure
from optuna.trial import TrialState

from lce_nas import __version__
from lce_nas.errors import UserError

META_KEY = "lce_nas"
INTERRUPTED = "interrupted: the search stopped before this candidate finished"
DIRECTIONS = ("maximize", "minimize")
#: Objective names, so optuna-dashboard and ``Study.metric_names`` say what the values are.
METRIC_NAMES = ("proxy_top1", "latency_ms")


@dataclass(frozen=True)
class StudyMeta:
    """What a study was created for; a resume must match it."""

    space: str
    space_version: str
    device: str
    measurement_key: dict[str, Any]
    dataset: str
    proxy_settings: dict[str, Any]
    constraints: dict[str, float | None]
    sampler: str
    seed: int | None
    presets: dict[str, str] = field(default_factory=dict)
    #: A multi-fidelity search's ladder (``Ladder.to_dict``); None: one rung, ``proxy_settings``.
    ladder: dict[str, Any] | None = None
    reference_point: dict[str, float] | None = None
    lce_nas_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def storage_for(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage on the same URL as the latency database (waits out restarts)."""
    from lce_nas.search.storage import PatientStorage

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Workers and the store write to the same file: wait rather than fail.
        kwargs["connect_args"] = {"timeout": 60}
    else:
        # After a server restart, pooled connections are dead: test before use.
        kwargs["pool_pre_ping"] = True
    return PatientStorage(url, engine_kwargs=kwargs)


def open_study(
    url: str, name: str, meta: StudyMeta, sampler: optuna.samplers.BaseSampler
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it if a study of that name exists; returns (study, resumed).

    A study created for another space, device, measurement key, dataset,
    proxy setting or ladder is refused: its numbers would not be comparable.
    """
    storage = storage_for(url)
    existing = {s.study_name for s in storage.get_all_studies()}
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(DIRECTIONS),
        sampler=sampler,
        load_if_exists=True,
    )
    if name not in existing:
        study.set_user_attr(META_KEY, meta.to_dict())
        with warnings.catch_warnings():
            # Optuna marks set_metric_names experimental; its storage format is stable.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(METRIC_NAMES))
        return study, False
    stored = study.user_attrs.get(META_KEY)
    if stored is None:
        raise UserError(
            f"study '{name}' exists but was not made by lce-nas; choose another --study-name"
        )
    for key in ("space", "device", "measurement_key", "dataset", "proxy_settings", "ladder"):
        if stored.get(key) != getattr(meta, key):
            raise UserError(
                f"study '{name}' was made with {key} = {stored.get(key)!r}, "
                f"not {getattr(meta, key)!r}; "
                "resume it with the same settings or choose another --study-name"
            )
    return study, True


def study_meta(study: optuna.Study | optuna.study.StudySummary) -> dict[str, Any]:
    """The lce-nas metadata of a study (empty for foreign studies)."""
    return dict(study.user_attrs.get(META_KEY) or {})


def update_meta(study: optuna.Study, **changes: Any) -> None:
    """Change some metadata fields of a study."""
    meta = study_meta(study)
    meta.update(changes)
    study.set_user_attr(META_KEY, meta)


def enqueue_presets(study: optuna.Study, space, presets: dict[str, Any]) -> None:
    """Queue the named baselines first, so every front shows them."""
    for name, config in presets.items():
        study.enqueue_trial(space.trial_params(config), user_attrs={PRESET: name})


def recover_interrupted(study: optuna.Study) -> list[int]:
    """Fail trials left RUNNING by a process that died, and queue their candidates again.

    One search process drives a study at a time; its own running trials are
    in memory, so any RUNNING trial found at start belongs to a dead process.
    """
    requeued = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        write_failure(study, trial, INTERRUPTED)
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        requeue(study, trial.params, trial.user_attrs)
        requeued.append(trial.number)
    return requeued


def requeue(study: optuna.Study, params: dict[str, Any], user_attrs: dict[str, Any]) -> None:
    """Queue a candidate again (after an interruption), keeping its preset label."""
    attrs = {PRESET: user_attrs[PRESET]} if user_attrs.get(PRESET) else None
    if params:
        study.enqueue_trial(params, user_attrs=attrs)


def counted_trials(study: optuna.Study) -> int:
    """Trials that count against ``--trials``: completed, and failed for a reason of their own."""
    done = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if trial.state == TrialState.COMPLETE or trial.user_attrs.get(FAILURE) != INTERRUPTED:
            done += 1
    return done


def finite(value: float) -> float | None:
    """``value``, or None where it is not a finite number (JSON has no inf)."""
    return value if value is not None and math.isfinite(value) else None
