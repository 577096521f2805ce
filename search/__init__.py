"""The search: the Optuna study loop, the one trial record and front, the read path, export.

- ``record``: what a trial is (:class:`~lce_nas.search.record.TrialRecord`),
  written by the loop and read by everything else;
- ``front``: feasibility, dominance, reference point and hypervolume as pure
  functions of a study's records;
- ``reader``: trial records straight from Optuna's tables, kept up to date
  incrementally (``lce-nas front``, export and the dashboard read through it);
- ``loop``, ``run``, ``study``, ``samplers``, ``progress``: the search itself;
  ``export`` and ``plot``: what leaves it;
- ``fidelity``, ``promotion``, ``climb``: multi-fidelity training (the ladder
  of rungs, MO-ASHA's stopping rule, one candidate's way up the ladder).
"""
