"""Configs drawn from a search space for tests: seeded, and a subset that covers them."""

from __future__ import annotations

from typing import Any

import optuna


def sample_configs(space, count: int = 20, seed: int = 20) -> list[Any]:
    """``count`` configs drawn by Optuna's RandomSampler with a fixed seed."""
    return [config for config, _, _ in _draws(space, count, seed)]


def covering_configs(space, count: int = 8, pool: int = 20, seed: int = 20) -> list[Any]:
    """``count`` of :func:`sample_configs`' ``pool`` draws that between them take every
    value of every categorical choice the pool takes (as far as ``count`` allows), then
    the deepest and the shallowest draw: the pool's variety for a fraction of its builds."""
    draws = _draws(space, pool, seed)
    wanted = set().union(*(choices for _, choices, _ in draws))
    chosen: list[int] = []
    while wanted and len(chosen) < count:
        best = max(range(pool), key=lambda i: (len(draws[i][1] & wanted), -i))
        wanted -= draws[best][1]
        chosen.append(best)
    by_depth = sorted(range(pool), key=lambda i: (draws[i][2], i))
    chosen += [i for i in (by_depth[-1], by_depth[0]) if i not in chosen]
    chosen += [i for i in range(pool) if i not in chosen]
    return [draws[i][0] for i in sorted(chosen[:count])]


def _draws(space, count: int, seed: int) -> list[tuple[Any, set[tuple[str, Any]], int]]:
    """(config, its categorical choices, its depth) for ``count`` seeded random draws."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    draws = []
    for _ in range(count):
        trial = study.ask()
        config = space.suggest(trial)
        categorical = {
            (name, trial.params[name]) for name, distribution in trial.distributions.items()
            if isinstance(distribution, optuna.distributions.CategoricalDistribution)
        }  # fmt: skip
        depth = sum(v for k, v in trial.params.items() if k.startswith(("blocks_", "layers_")))
        draws.append((config, categorical, depth))
        study.tell(trial, 0.0)
    return draws
