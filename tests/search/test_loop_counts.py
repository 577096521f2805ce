"""The loop asks the database once per candidate and result kind; a process opens one store.

The pool is the boundary here: a stand-in answers as the Ray workers do (it
records what a worker would record), so the loop, the study, the space and
the SQLite store are the real ones and every store call can be counted.
"""

from __future__ import annotations

from collections import Counter

import optuna
from lce_nas.latency_db import LatencyStore, open_store
from lce_nas.search.loop import SearchLoop
from lce_nas.search.run import SearchSettings
from lce_nas.space import get_space
from stand_in_pool import KEY, Quiet, StandInPool


def _count(store: LatencyStore, names: tuple[str, ...]) -> Counter:
    counts: Counter = Counter()
    for name in names:
        original = getattr(store, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(store, name, counted)
    return counts


def _run(url: str, store: LatencyStore, trials: int, seed: int):
    space = get_space("quicknet")
    study = optuna.create_study(
        storage=url,
        directions=["maximize", "minimize"],
        load_if_exists=True,
        study_name="counts",
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    # The workers write through their own store, as in their own processes.
    workers = StandInPool(LatencyStore(url), space)
    settings = SearchSettings("counts", trials=trials, parallel=2)
    SearchLoop(study, space, workers, store, settings, KEY, Quiet()).run()
    return workers


def test_one_lookup_per_candidate_and_result_kind(tmp_path):
    url = f"sqlite:///{tmp_path / 'counts.db'}"
    store = LatencyStore(url)
    counts = _count(
        store, ("lookup_measurement_row", "lookup_accuracy", "record_config", "record_device")
    )
    workers = _run(url, store, trials=4, seed=0)
    assert counts == {"lookup_measurement_row": 4, "lookup_accuracy": 4, "record_config": 4}
    # Every miss went to a worker told not to look again.
    assert sorted(workers.calls) == [("accuracy", False)] * 4 + [("latency", False)] * 4
    # The same candidates again: answered from the database, still one lookup each.
    counts.clear()
    again = _run(url, store, trials=8, seed=0)
    assert counts["lookup_measurement_row"] == counts["lookup_accuracy"] == 4
    assert again.calls == []


def test_a_process_opens_one_store_per_database(tmp_path, monkeypatch):
    opened: list[str] = []
    original = LatencyStore.__init__

    def counting(self, url, create=True):
        opened.append(url)
        original(self, url, create)

    monkeypatch.setattr(LatencyStore, "__init__", counting)
    first = f"sqlite:///{tmp_path / 'a.db'}"
    second = f"sqlite:///{tmp_path / 'b.db'}"
    stores = [open_store(first) for _ in range(5)] + [open_store(second) for _ in range(3)]
    assert opened == [first, second]
    assert all(s is stores[0] for s in stores[:5]) and stores[5] is not stores[0]
