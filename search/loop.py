"""The search loop: ask Optuna, evaluate candidates on the pool, tell Optuna.

Up to ``parallel`` candidates are in flight. A candidate's timing and
training are separate futures; with a latency limit, a candidate is timed
first and trained only if it meets the limit. Known results (same
fingerprint, same key) come from the database and cost no device or training
time.

With a ladder of several rungs (multi-fidelity), a candidate trains rung
after rung while it is in flight: each time a rung settles, the
:class:`~lce_nas.search.promotion.PromotionBoard` decides at once whether it
climbs on or stops there, so a slot never waits for a rung to fill. Optuna
is told the rung-0 accuracy, the one fidelity every trial has (see
``benchmarks/proxy_fidelity.py``); the record keeps the whole ladder.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

import optuna
from lce_nas.search.climb import Candidate, Climb
from lce_nas.search.fidelity import RungResult
from lce_nas.search.front import REFERENCE_FACTOR, front_numbers, initial_reference_point
from lce_nas.search.progress import Reporter, SearchStats
from lce_nas.search.promotion import promotion_board
from lce_nas.search.record import (
    TrialRecord,
    finite,
    record_from_frozen,
    write_candidate,
    write_failure,
    write_fidelity,
    write_prediction,
    write_result,
)
from lce_nas.search.study import (
    INTERRUPTED,
    counted_trials,
    requeue,
    study_meta,
    update_meta,
)
from lce_nas.space.shape import DeployShape
from lce_nas.workers.pool import failure_reason
from optuna.trial import TrialState


class SearchLoop:
    """Drives one study to its budget (see :func:`lce_nas.search.run_search`)."""

    def __init__(
        self, study, space, pool, store, settings, key, reporter: Reporter, predictor=None
    ) -> None:
        self.study, self.space, self.pool, self.store = study, space, pool, store
        self.settings, self.key, self.reporter = settings, key, reporter
        #: A :class:`~lce_nas.predictor.service.SearchPredictor`, or None (measure everything).
        self.predictor = predictor
        from lce_nas.workers.datasets import dataset_name

        self.dataset_key = dataset_name(settings.dataset)
        self.stats = SearchStats()
        self.inflight: dict[int, Candidate] = {}
        self.started = time.monotonic()
        # The study is read once; from then on the loop keeps its records itself,
        # so a long search never re-reads thousands of trials per step.
        self.records: dict[int, TrialRecord] = {
            t.number: record_from_frozen(t) for t in study.get_trials(deepcopy=False)
        }
        self.counted = counted_trials(study)
        meta = study_meta(study)
        self.reference_ms = finite_reference(meta)
        # Preset medians as they are timed: the reference's latency is known from them
        # before the presets finish training (the predictor needs no accuracy).
        self.preset_names = set(meta.get("presets") or {})
        self.preset_ms: dict[str, float] = {}
        self.ladder = settings.ladder()
        self.board = promotion_board(self.ladder.eta, self.records.values())

    # -- budget ---------------------------------------------------------------
    def _time_left(self) -> bool:
        budget = self.settings.time_budget_s
        return budget is None or time.monotonic() - self.started < budget

    def _may_ask(self) -> bool:
        if self.stats.stop_reason or len(self.inflight) >= self.settings.parallel:
            return False
        if not self._time_left():
            self.stats.stop_reason = "time budget reached"
            return False
        target = self.settings.trials
        return target is None or self.counted + len(self.inflight) < target

    # -- main loop ------------------------------------------------------------
    def run(self) -> SearchStats:
        """Run until the budget is spent, K failures in a row, or Ctrl-C."""
        try:
            while True:
                while self._may_ask():
                    self._start(self.study.ask())
                if not self.inflight:
                    break
                futures = [f for c in self.inflight.values() for f in c.futures()]
                done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                for candidate in list(self.inflight.values()):
                    if any(f in done for f in candidate.futures()):
                        self._advance(candidate)
                self._report()
        except KeyboardInterrupt:
            self.stats.stop_reason = "interrupted (Ctrl-C)"
            self._abandon_inflight()
            raise
        if not self.stats.stop_reason:
            self.stats.stop_reason = "trial budget reached"
        return self.stats

    def _report(self) -> None:
        self.reporter.update(self.stats, self.settings.trials)

    # -- one candidate ----------------------------------------------------------
    def _start(self, trial: optuna.Trial) -> None:
        try:
            config = self.space.suggest(trial)
        except Exception as err:  # a sampler or space bug must not stop the search
            self._fail(trial, f"could not build the config: {failure_reason(err)}")
            return
        params = self.space.to_params(config)
        fingerprint = self.space.fingerprint(config)
        shape = DeployShape.from_label(self.key.deploy_shape)
        summary = self.space.describe(config, shape.input_shape, shape.classes)
        write_candidate(trial, fingerprint, params, summary)
        preset = self.space.preset_name(config)
        climb = Climb(self.ladder, preset=preset is not None)
        candidate = Candidate(trial, params, fingerprint, climb, preset=preset)
        self.inflight[trial.number] = candidate
        max_mb = self.settings.max_size_mb
        if max_mb is not None:
            trial.set_constraint("size", summary.packed_mb - max_mb)
            if summary.packed_mb > max_mb:
                # Too big to deploy: neither its latency nor its accuracy can matter.
                self._finish_infeasible(candidate, latency_ms=math.inf)
                return
        # The one cache lookup per candidate and result kind; workers are told it missed.
        self.store.record_config(self.space, config)
        measured = self.store.lookup_measurement_row(fingerprint, self.key)
        if measured is not None:
            from lce_nas.latency_db.records import measurement_from_row

            candidate.latency, candidate.cached["latency"] = measurement_from_row(measured), True
            candidate.measurement_id = measured["id"]
            self.stats.cache_hits += 1
        else:
            prediction = self._predict(candidate, config)
            if prediction is not None and self._predicted_out(candidate, prediction):
                return
            candidate.latency_future = self.pool.submit_latency(
                self.space.name,
                params,
                lookup=False,
                deploy_shape=self.key.deploy_shape,
                predicted=prediction,
            )
        if self.settings.max_latency_ms is None or candidate.latency is not None:
            self._submit_training(candidate)
        self._advance(candidate)

    # -- the latency predictor ------------------------------------------------------
    def _latency_limit(self) -> float | None:
        """What a candidate must beat to matter: the latency limit, else the reference's."""
        if self.settings.max_latency_ms or self.reference_ms:
            return self.settings.max_latency_ms or self.reference_ms
        if self.preset_names and self.preset_names <= set(self.preset_ms):
            return REFERENCE_FACTOR * max(self.preset_ms.values())
        return None

    def _note_latency(self, candidate: Candidate) -> None:
        if candidate.preset is not None and candidate.latency is not None:
            self.preset_ms[candidate.preset] = candidate.latency.median_ms

    def _predict(self, candidate: Candidate, config: Any) -> dict[str, Any] | None:
        # Presets are always measured: they anchor the reference and the front.
        if self.predictor is None or candidate.preset is not None:
            return None
        try:
            return self.predictor.predict(config)
        except Exception as err:  # a predictor bug must not stop the search: measure instead
            self.reporter.log(f"no latency prediction: {failure_reason(err)}")
            return None

    def _predicted_out(self, candidate: Candidate, prediction: dict[str, Any]) -> bool:
        """Finish a candidate whose whole interval lies above the limit, untouched."""
        write_prediction(candidate.trial, prediction)
        limit, low = self._latency_limit(), prediction.get("low_ms")
        if limit is None or low is None or low <= limit:
            return False
        candidate.trial.set_constraint("latency", low - limit)
        reason = (
            f"predicted {prediction['median_ms']:.1f} ms (interval from {low:.1f}) "
            f"> limit {limit:.1f} ms"
        )
        self.stats.predicted_out += 1
        self._finish_infeasible(candidate, latency_ms=math.inf, reason=reason)
        return True

    # -- training, rung by rung ------------------------------------------------------
    def _submit_training(self, candidate: Candidate) -> None:
        """Start the current rung's trainings (one per seed), each found in the cache or sent."""
        climb = candidate.climb
        for position, settings in enumerate(climb.trainings()):
            evaluation = self.store.lookup_accuracy(
                candidate.fingerprint, self.dataset_key, settings.to_dict()
            )
            if evaluation is not None:
                climb.evaluations[position] = evaluation
                self.stats.cache_hits += 1
            else:
                climb.pending[position] = self.pool.submit_accuracy(
                    self.space.name, candidate.params, lookup=False, settings=settings
                )

    def _collect_training(self, candidate: Candidate) -> None:
        climb = candidate.climb
        for position, future in list(climb.pending.items()):
            if not future.done():
                continue
            result = future.result()
            del climb.pending[position]
            climb.evaluations[position] = result.evaluation
            if result.cached:
                self.stats.cache_hits += 1
            else:
                climb.all_cached = False
                self.stats.trained += 1
                self.stats.train_s += result.evaluation.train_seconds
                self.stats.busy_intervals.append((result.started, result.finished))

    def _climb(self, candidate: Candidate) -> None:
        """Settle rungs as their trainings come in; finish the trial where its climb ends."""
        climb = candidate.climb
        if not climb.started:
            self._submit_training(candidate)
        self._collect_training(candidate)
        while climb.settled():
            result = climb.settle()
            if climb.at_top or not self._promoted(candidate, result):
                self._finish(candidate)
                return
            climb.step_up()
            self._submit_training(candidate)
            self._collect_training(candidate)

    def _promoted(self, candidate: Candidate, result: RungResult) -> bool:
        """MO-ASHA's decision at a settled rung below the top (presets always climb)."""
        climbs = self.board.report(
            result.rung,
            number=candidate.trial.number,
            accuracy=result.top1,
            latency_ms=candidate.latency.median_ms,
            preset=candidate.preset is not None,
        )
        # Once the time budget is spent, only the presets still climb: they anchor the front.
        if climbs and candidate.preset is None and not self._time_left():
            climbs = False
        if climbs:
            self.stats.promoted += 1
        else:
            self.stats.stopped += 1
        return climbs

    def _advance(self, candidate: Candidate) -> None:
        """Collect finished futures; finish the trial when both results are in."""
        try:
            if candidate.latency_future is not None and candidate.latency_future.done():
                result = candidate.latency_future.result()
                candidate.latency_future = None
                candidate.latency = result.measurement
                candidate.cached["latency"] = result.cached
                candidate.measurement_id = result.measurement_id
                if result.cached:
                    self.stats.cache_hits += 1
                else:
                    self.stats.timed += 1
                    if self.predictor is not None:
                        self.predictor.timed()
                    self.stats.convert_s += result.convert_s
                    self.stats.measure_s += result.measure_s
                    self.stats.busy_intervals.append((result.started, result.finished))
            if candidate.latency is None:
                return
            self._note_latency(candidate)
            limit = self.settings.max_latency_ms
            if limit is not None and candidate.latency.median_ms > limit:
                self._finish_infeasible(candidate, candidate.latency.median_ms)
                return
            self._climb(candidate)
        except KeyboardInterrupt:
            raise
        except Exception as err:
            stage = "timing" if candidate.latency is None else "training"
            self._fail(candidate.trial, f"{stage} failed: {failure_reason(err)}", candidate)

    def _finish(self, candidate: Candidate) -> None:
        trial, latency, climb = candidate.trial, candidate.latency, candidate.climb
        if self.settings.max_latency_ms is not None:
            trial.set_constraint("latency", latency.median_ms - self.settings.max_latency_ms)
        candidate.cached["accuracy"] = climb.all_cached
        if self.ladder.is_single:
            evaluation, ladder, told = climb.evaluations[0], None, climb.evaluations[0].top1
        else:
            spent = sum(r.train_seconds for r in climb.results)
            evaluation = dataclasses.replace(climb.highest, train_seconds=spent)
            ladder, told = climb.ladder_rows(), climb.results[0].top1
            write_fidelity(trial, climb.highest, len(self.ladder.rungs))
        write_result(
            trial,
            feasible=True,
            cached=candidate.cached,
            measurement=latency,
            measurement_id=candidate.measurement_id,
            evaluation=evaluation,
            ladder=ladder,
        )
        self.study.tell(trial, [told, latency.median_ms])
        self._finished(trial)
        self.stats.completed += 1
        self.stats.consecutive_failures = 0
        record = self.records[trial.number]
        if record.contender and record.point is not None:
            best = self.stats.best_accuracy
            self.stats.best_accuracy = max(record.point[0], best if best is not None else -1.0)
        self._update_front()

    def _finish_infeasible(
        self, candidate: Candidate, latency_ms: float, reason: str | None = None
    ) -> None:
        trial = candidate.trial
        if self.settings.max_latency_ms is not None and math.isfinite(latency_ms):
            trial.set_constraint("latency", latency_ms - self.settings.max_latency_ms)
        write_result(
            trial,
            feasible=False,
            cached=candidate.cached,
            measurement=candidate.latency,
            measurement_id=candidate.measurement_id,
            infeasible=reason,
        )
        self.study.tell(trial, [0.0, latency_ms])
        self._finished(trial)
        self.stats.completed += 1
        self.stats.infeasible += 1
        self.stats.consecutive_failures = 0
        self._update_front()

    def _fail(self, trial: optuna.Trial, reason: str, candidate: Candidate | None = None) -> None:
        write_failure(self.study, trial, reason)
        self.study.tell(trial, state=TrialState.FAIL)
        self._finished(trial)
        if candidate is not None:
            for future in candidate.futures():
                future.cancel()
        self.stats.failed += 1
        self.stats.consecutive_failures += 1
        self.reporter.log(f"trial {trial.number} failed: {reason}")
        if self.stats.consecutive_failures >= self.settings.max_consecutive_failures:
            self.stats.stop_reason = (
                f"stopped after {self.stats.consecutive_failures} failed trials in a row "
                f"(last: {reason})"
            )

    def _finished(self, trial: optuna.Trial) -> None:
        """Keep the loop's own record of a trial Optuna was just told about."""
        self.inflight.pop(trial.number, None)
        frozen = self.study._storage.get_trial(trial._trial_id)
        self.records[trial.number] = record_from_frozen(frozen)
        self.counted += 1

    def _abandon_inflight(self) -> None:
        """On Ctrl-C: mark unfinished trials and queue them for the next run."""
        for candidate in list(self.inflight.values()):
            for future in candidate.futures():
                future.cancel()
            write_failure(self.study, candidate.trial, INTERRUPTED)
            self.study.tell(candidate.trial, state=TrialState.FAIL, skip_if_finished=True)
            requeue(self.study, candidate.trial.params, candidate.trial.user_attrs)
        self.inflight.clear()

    def _update_front(self) -> None:
        records = list(self.records.values())
        self.stats.front_size = len(front_numbers(records))
        if self.reference_ms is not None:
            return
        meta = study_meta(self.study)
        if meta.get("reference_point") is None:
            reference = initial_reference_point(meta, records)
            if reference is not None:
                update_meta(self.study, reference_point=reference)
                self.reference_ms = finite_reference({"reference_point": reference})
        else:
            self.reference_ms = finite_reference(meta)


def finite_reference(meta: dict[str, Any]) -> float | None:
    """The latency of a study's fixed reference point, or None while there is none."""
    return finite((meta.get("reference_point") or {}).get("latency_ms"))
