"""Which Optuna sampler should a search use by default? A measurement on a surrogate.

A real search costs minutes per trial, so samplers are compared on a cheap
surrogate of the quicknet space built from published numbers only:

* latency: a least-squares fit of LCE's published Raspberry Pi 4 single-thread
  latencies of QuickNetSmall / QuickNet / QuickNetLarge (27.7 / 45.0 / 77.0 ms)
  to the closed-form binary and float MAC counts of each config;
* accuracy: a saturating fit of the presets' ImageNet top-1 (59.4 / 63.3 /
  66.9 %) to log binary MACs, saturating towards 75 % beyond the largest
  preset. It is a smooth stand-in that
  rewards capacity with diminishing returns, not a claim about real accuracy.

Each sampler runs 100 trials from 8 seeds, the QuickNet presets enqueued first
as in a real search; the figure of merit is the hypervolume of the final front
with the reference point (60 % top-1, about QuickNetSmall's, and twice
QuickNetLarge's latency): the region a user would deploy from.

    python benchmarks/sampler_choice.py [--trials 100] [--seeds 8]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import optuna
from lce_nas.search.pareto import hypervolume
from lce_nas.search.samplers import make_sampler
from lce_nas.space import get_space

PUBLISHED_RPI4_MS = {"quicknet-small": 27.7, "quicknet": 45.0, "quicknet-large": 77.0}
REFERENCE_TOP1 = 60.0
IMAGENET_TOP1 = {"quicknet-small": 59.4, "quicknet": 63.3, "quicknet-large": 66.9}


def fit_surrogate(space):
    """Latency and accuracy functions of a config, fitted to the published numbers."""
    presets = space.presets()
    summaries = {name: space.describe(cfg) for name, cfg in presets.items()}
    names = list(PUBLISHED_RPI4_MS)
    features = np.array(
        [[summaries[n].binary_macs / 1e9, summaries[n].float_macs / 1e9, 1.0] for n in names]
    )
    coef, *_ = np.linalg.lstsq(
        features, np.array([PUBLISHED_RPI4_MS[n] for n in names]), rcond=None
    )
    log_macs = np.array([math.log(summaries[n].binary_macs) for n in names])
    slope, intercept = np.polyfit(log_macs, [IMAGENET_TOP1[n] for n in names], 1)

    def latency(config) -> float:
        s = space.describe(config)
        return float(max(1.0, coef @ [s.binary_macs / 1e9, s.float_macs / 1e9, 1.0]))

    top = max(IMAGENET_TOP1.values())

    def accuracy(config) -> float:
        s = space.describe(config)
        fitted = intercept + slope * math.log(max(s.binary_macs, 1))
        if fitted <= top:
            return float(fitted)
        # Beyond the largest preset, returns diminish towards a 75 % ceiling.
        return float(top + (75.0 - top) * (1.0 - math.exp(-(fitted - top) / (75.0 - top))))

    return latency, accuracy


def run(sampler_name: str, seed: int, trials: int, space, latency, accuracy) -> float:
    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=make_sampler(sampler_name, seed)
    )
    for config in space.presets().values():
        study.enqueue_trial(space.trial_params(config))
    for _ in range(trials):
        trial = study.ask()
        config = space.suggest(trial)
        study.tell(trial, [accuracy(config), latency(config)])
    points = [(t.values[0], t.values[1]) for t in study.trials]
    reference = (REFERENCE_TOP1, 2 * PUBLISHED_RPI4_MS["quicknet-large"])
    return hypervolume(points, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = get_space("quicknet")
    latency, accuracy = fit_surrogate(space)
    print(
        "surrogate check: "
        + ", ".join(
            f"{n} {latency(c):.1f} ms / {accuracy(c):.1f} %" for n, c in space.presets().items()
        )
    )
    results = {}
    for name in ("random", "tpe", "nsga2"):
        start = time.perf_counter()
        volumes = [
            run(name, seed, args.trials, space, latency, accuracy) for seed in range(args.seeds)
        ]
        results[name] = volumes
        print(
            f"{name:7s} hypervolume {statistics.mean(volumes):8.1f} ± "
            f"{statistics.stdev(volumes):6.1f}  ({time.perf_counter() - start:.0f} s)"
        )
    base = statistics.mean(results["random"])
    print(
        "\nratio to random search: "
        + ", ".join(f"{name} {statistics.mean(v) / base:.2f}x" for name, v in results.items())
    )


if __name__ == "__main__":
    main()
