"""A candidate whose worker was lost with its node is submitted again; its own errors are not."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future

import pytest
from lce_nas.workers import pool as pool_module
from lce_nas.workers.pool import NODE_LOSS_RESUBMITS, Pool
from ray import exceptions as rx


class _Ref:
    """What ``.remote()`` returns, answered with a prepared outcome."""

    def __init__(self, outcome) -> None:
        self.outcome = outcome

    def future(self) -> Future:
        future: Future = Future()
        if isinstance(self.outcome, BaseException):
            future.set_exception(self.outcome)
        else:
            future.set_result(self.outcome)
        return future


class _Result:
    node_id = "feedface00000000"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(pool_module, "NODE_LOSS_BACKOFF_S", (0.01,))


def _pool() -> Pool:
    pool = Pool.__new__(Pool)  # no Ray: only the resubmission logic is under test
    pool.resubmitted = Counter()
    pool.placements = {"training": Counter(), "timing": Counter()}
    pool.said = []
    pool.notify = pool.said.append
    return pool


def _submitter(outcomes: list):
    calls = []

    def submit() -> _Ref:
        calls.append(1)
        return _Ref(outcomes[len(calls) - 1])

    return submit, calls


def test_a_node_loss_is_submitted_again_and_counted():
    pool = _pool()
    submit, calls = _submitter([rx.NodeDiedError("node 1 died"), _Result()])
    result = pool._resilient("training", submit).result(timeout=5)
    assert isinstance(result, _Result) and len(calls) == 2
    assert pool.resubmitted["training"] == 1
    assert pool.placements["training"] == Counter({"feedface00000000": 1})
    assert "lost with its node (NodeDiedError" in pool.said[0]


def test_resubmissions_are_bounded():
    pool = _pool()
    lost = [rx.ActorDiedError() for _ in range(NODE_LOSS_RESUBMITS + 1)]
    submit, calls = _submitter(lost)
    with pytest.raises(rx.ActorDiedError):
        pool._resilient("timing", submit).result(timeout=5)
    assert len(calls) == NODE_LOSS_RESUBMITS + 1


def test_the_candidates_own_failure_is_not_submitted_again():
    pool = _pool()
    submit, calls = _submitter([ValueError("model does not convert")])
    with pytest.raises(ValueError, match="does not convert"):
        pool._resilient("timing", submit).result(timeout=5)
    assert len(calls) == 1 and not pool.resubmitted
