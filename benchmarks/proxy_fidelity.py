"""Proxy fidelity: does a short proxy training rank architectures like a longer one?

Samples configs from a space with Optuna's RandomSampler (fixed seed), trains
each proxy at the candidate default settings and at a reference setting with
4x the epochs and 4x the training images, and prints each setting's accuracy,
wall time and Kendall's tau against the reference's ranking.

    python benchmarks/proxy_fidelity.py --configs 12 --seed 0 \\
        --extra 1x1000 --extra 4x4000 --results fidelity.jsonl

The candidate default is ``ProxySettings``' defaults unless ``--epochs``,
``--subset``, ``--batch-size``, ``--width``... say otherwise.

Results are appended to ``--results`` as JSON lines as they come, and a rerun
with the same file skips what is already there (so a long run can resume).

``--ladder`` runs the fidelity benchmark of a multi-fidelity ladder instead:
every rung, the default and a long reference, several seeds each, on the
presets plus sampled configs inside the presets' latency range (see
``fidelity_ladder.py`` for its command and rows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import lce_nas  # noqa: F401  (sets Keras 2 before TensorFlow loads)


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b between two score lists (ties counted as in scipy).

    Example:
        >>> kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])
        0.6666666666666666
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("need two lists of the same length, at least 2")
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b))
    return (concordant - discordant) / denominator if denominator else float("nan")


def sample_configs(space_name: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` configs from the space's ``suggest`` under a seeded RandomSampler."""
    import optuna
    from lce_nas.space import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = get_space(space_name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [space.to_params(space.suggest(study.ask())) for _ in range(count)]


def parse_setting(text: str) -> tuple[int, int]:
    """``EPOCHSxIMAGES`` (e.g. ``2x1000``) as a pair."""
    epochs, _, images = text.partition("x")
    return int(epochs), int(images)


def main(argv: list[str] | None = None) -> int:
    from lce_nas.workers.trainer import ProxySettings, train_proxy

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="quicknet")
    parser.add_argument("--configs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=ProxySettings.epochs)
    parser.add_argument("--subset", type=int, default=ProxySettings.subset)
    parser.add_argument("--batch-size", type=int, default=ProxySettings.batch_size)
    parser.add_argument("--width", type=float, default=ProxySettings.width)
    parser.add_argument("--optimizer", default=ProxySettings.optimizer)
    parser.add_argument("--learning-rate", type=float, default=ProxySettings.learning_rate)
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help="more candidate settings EPOCHSxIMAGES, compared with the same reference",
    )
    parser.add_argument("--results", default="proxy_fidelity.jsonl")
    ladder = parser.add_argument_group("--ladder: the fidelity benchmark of a ladder")
    ladder.add_argument("--ladder", action="store_true", help="run the ladder benchmark")
    ladder.add_argument("--sampled", type=int, default=12, help="configs besides the presets")
    ladder.add_argument("--min-steps", type=int, default=125)
    ladder.add_argument("--max-steps", type=int, default=1125)
    ladder.add_argument("--eta", type=float, default=3.0)
    ladder.add_argument("--widths", default="0.0625,0.125,0.25", help="per rung, lowest first")
    ladder.add_argument("--reference-steps", type=int, default=4000)
    ladder.add_argument("--reference-width", type=float, default=0.25)
    ladder.add_argument("--seeds", type=int, default=3, help="seeds at every fidelity")
    ladder.add_argument(
        "--top-seeds", type=int, default=2, help="a search's seeds at the top (for its cost)"
    )
    ladder.add_argument("--max-latency-factor", type=float, default=2.0)
    ladder.add_argument("--db", default="proxy_fidelity.db", help="where latencies are kept")
    ladder.add_argument("--shard", default="0/1", help="K/N: train every N-th config from K")
    ladder.add_argument(
        "--report-only", action="store_true", help="print the figures of the rows there"
    )
    args = parser.parse_args(argv)
    if args.ladder:
        from fidelity_ladder import run

        return run(args)

    base = ProxySettings(
        epochs=args.epochs,
        subset=args.subset,
        batch_size=args.batch_size,
        width=args.width,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
    )
    default_name = f"{base.epochs}x{base.subset}"
    reference = base.replace(epochs=4 * base.epochs, subset=4 * base.subset)
    reference_name = f"{reference.epochs}x{reference.subset}"
    # The default first and the reference second: an interrupted run still
    # answers the main question.
    settings = {default_name: base, reference_name: reference}
    for text in args.extra:
        epochs, images = parse_setting(text)
        settings.setdefault(f"{epochs}x{images}", base.replace(epochs=epochs, subset=images))

    configs = sample_configs(args.space, args.configs, args.seed)
    results_path = Path(args.results)
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            row = json.loads(line)
            if row["settings"] == settings.get(row["name"], base).to_dict():
                done[(row["name"], row["config_index"])] = row
    print(
        f"{len(configs)} configs of {args.space!r} (RandomSampler seed {args.seed}), "
        f"dataset {args.dataset}, {os.cpu_count()} CPUs; settings: "
        + ", ".join(f"{n} ({s.to_dict()})" for n, s in settings.items()),
        flush=True,
    )
    for name, setting in settings.items():
        for index, params in enumerate(configs):
            if (name, index) in done:
                continue
            started = time.perf_counter()
            result = train_proxy(args.space, params, setting, args.dataset)
            row = {
                "name": name,
                "config_index": index,
                "config": params,
                "fingerprint": result.evaluation.fingerprint,
                "top1": result.top1,
                "loss": result.evaluation.loss,
                "seconds": time.perf_counter() - started,
                "settings": setting.to_dict(),
            }
            done[(name, index)] = row
            with results_path.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(
                f"  {name:>9} config {index:2d}: top-1 {row['top1']:.3f}  {row['seconds']:6.1f} s",
                flush=True,
            )
    print_table(configs, list(settings), reference_name, done)
    return 0


def print_table(
    configs: list[dict[str, Any]],
    names: list[str],
    reference_name: str,
    done: dict[tuple[str, int], dict[str, Any]],
) -> None:
    """Per-config accuracies, then per setting: total wall time and tau vs the reference."""
    header = "config  blocks         filters                stem trans.    k act.  "
    print("\n" + header + "".join(f"{n:>10}" for n in names))
    for index, params in enumerate(configs):
        cells = "".join(
            f"{done[(n, index)]['top1']:10.3f}" if (n, index) in done else f"{'-':>10}"
            for n in names
        )
        print(
            f"{index:6d}  {params['section_blocks']!s:14} {params['section_filters']!s:22} "
            f"{params['stem_filters']:4d} {params['transition']:9} {params['kernel_size']:2d} "
            f"{params['activation']:5}{cells}"
        )

    def tau_between(first: str, second: str) -> float:
        """Kendall's tau-b of two settings over the configs both have (nan below two)."""
        both = [i for i in range(len(configs)) if (first, i) in done and (second, i) in done]
        if len(both) < 2:
            return float("nan")
        return kendall_tau(
            [done[(first, i)]["top1"] for i in both], [done[(second, i)]["top1"] for i in both]
        )

    print(f"\n{'setting':>10} {'configs':>8} {'wall s':>9} {'s/config':>9} {'tau':>7}")
    for name in names:
        rows = [done[(name, i)] for i in range(len(configs)) if (name, i) in done]
        tau = tau_between(name, reference_name)
        total = sum(r["seconds"] for r in rows)
        per = total / len(rows) if rows else float("nan")
        print(f"{name:>10} {len(rows):8d} {total:9.1f} {per:9.1f} {tau:7.3f}")
    print(f"(tau: Kendall's tau-b of the configs' top-1 against {reference_name})")
    print("\nKendall's tau between every two settings (configs both have):")
    print(" " * 10 + "".join(f"{n:>10}" for n in names))
    for first in names:
        cells = []
        for second in names:
            cells.append(f"{tau_between(first, second):10.3f}")
        print(f"{first:>10}" + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
