"""The Optuna samplers a search can use, built the same way on every resume.

The default is multivariate TPE: see ``benchmarks/sampler_choice.py`` and the
README for the measurement behind that choice.
"""

from __future__ import annotations

import optuna

from lce_nas.errors import UserError

DEFAULT_SAMPLER = "tpe"
SAMPLERS = ("tpe", "nsga2", "random")


def make_sampler(
    name: str, seed: int | None, startup_trials: int = 10
) -> optuna.samplers.BaseSampler:
    """A sampler by name; constraints set with ``trial.set_constraint`` are honoured by each.

    Example:
        >>> type(make_sampler("tpe", seed=0)).__name__
        'TPESampler'
    """
    if name == "tpe":
        # constant_liar keeps parallel workers from proposing the same point
        # while earlier proposals are still being evaluated.
        return optuna.samplers.TPESampler(
            multivariate=True, constant_liar=True, n_startup_trials=startup_trials, seed=seed
        )
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"unknown sampler '{name}' (choose from: {', '.join(SAMPLERS)})")
