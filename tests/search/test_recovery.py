"""Trials a dead search left running: failed as interrupted, queued again, not counted."""

from __future__ import annotations

import optuna
from lce_nas.search.record import FAILURE
from lce_nas.search.study import INTERRUPTED, counted_trials, recover_interrupted
from optuna.trial import TrialState


def test_interrupted_trials_are_failed_in_storage_requeued_and_not_counted(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, directions=["maximize", "minimize"])
    done = study.ask({"x": optuna.distributions.IntDistribution(0, 3)})
    study.tell(done, [0.5, 10.0])
    left = study.ask({"x": optuna.distributions.IntDistribution(0, 3)})
    params = left.params
    # Another process finds the RUNNING trial: it reads FrozenTrials.
    other = optuna.load_study(study_name="s", storage=url)
    assert recover_interrupted(other) == [left.number]

    reread = optuna.load_study(study_name="s", storage=url).get_trials(deepcopy=False)
    failed = [t for t in reread if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [left.number]
    assert failed[0].user_attrs[FAILURE] == INTERRUPTED
    waiting = [t for t in reread if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == params
    assert counted_trials(other) == 1  # the completed one only
