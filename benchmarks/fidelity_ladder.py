"""The fidelity benchmark of a multi-fidelity ladder (``proxy_fidelity.py --ladder``).

Configs: the space's presets plus configs sampled from it (seeded
RandomSampler) whose measured host latency is at most ``--max-latency-factor``
times the slowest preset's (those are the candidates a search keeps).
Fidelities: every rung of the ladder, today's default proxy, and a long
reference, each with several seeds. One JSON line per (config, fidelity,
seed) is appended to ``--results`` as it comes; a rerun with the same file
keeps its configs and skips the trainings it holds (found by their settings,
so one file can hold several ladders' rungs), so a run of several core-hours
can stop and resume, and another ladder reuses the rungs it shares;
``--shard K/N`` trains only every N-th config (from the K-th), so that N
processes, each on its own core, share one results file.

Reported from the rows: Kendall's tau of each fidelity's mean accuracy
against the reference's mean (with a bootstrap interval over configs), the
seed-to-seed standard deviation at each fidelity, how many of the pairs the
reference separates beyond its own seed noise each fidelity misorders, the
presets' order at each
fidelity, wall time per config, and the training cost of 100 multi-fidelity
candidates against 100 single-fidelity ones.

    python benchmarks/proxy_fidelity.py --ladder --sampled 12 --seed 0 \\
        --min-steps 125 --max-steps 1125 --eta 3 --widths 0.0625,0.125,0.25 \\
        --reference-steps 4000 --reference-width 0.25 --seeds 3 \\
        --results benchmarks/proxy_fidelity_ladder.jsonl

``--report-only`` prints the figures from the rows already in the file.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import time
from pathlib import Path
from typing import Any

#: What the published ImageNet top-1 says of the presets (QuickNetSmall < QuickNet < Large).
PUBLISHED_ORDER = ("quicknet-small", "quicknet", "quicknet-large")


def fidelities(args, base) -> tuple[dict[str, tuple[Any, int]], Any]:
    """Each fidelity's proxy settings and seeds (the rungs, the default, the reference),
    and the ladder a search with those rungs would climb."""
    from lce_nas.search.fidelity import Ladder, rung_label, settings_for_steps

    ladder = Ladder.geometric(
        base,
        min_steps=args.min_steps,
        max_steps=args.max_steps,
        eta=args.eta,
        widths=[float(w) for w in args.widths.split(",")] if args.widths else (),
        top_seeds=args.top_seeds,
    )
    chosen = {rung_label(r.index): (r.settings, args.seeds) for r in ladder.rungs}
    chosen["default"] = (base, args.seeds)
    reference = settings_for_steps(base, args.reference_steps, args.reference_width)
    chosen["reference"] = (reference, args.seeds)
    return chosen, ladder


def choose_configs(args) -> list[dict[str, Any]]:
    """The presets, then sampled configs inside the latency limit, each with its latency."""
    import optuna
    from lce_nas.engine.devices import get_device
    from lce_nas.space import get_space
    from lce_nas.workers.device import time_candidate

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = get_space(args.space)
    device = get_device("host")
    url = f"sqlite:///{Path(args.db).resolve()}"

    def timed(params: dict[str, Any]) -> float:
        return time_candidate(args.space, params, device, url, profile=False).measurement.median_ms

    configs = [
        {"preset": name, "params": space.to_params(config), "latency_ms": None}
        for name, config in space.presets().items()
    ]
    for entry in configs:
        entry["latency_ms"] = timed(entry["params"])
    limit = args.max_latency_factor * max(e["latency_ms"] for e in configs)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
    proposals = 0
    while sum(e["preset"] is None for e in configs) < args.sampled:
        proposals += 1
        params = space.to_params(space.suggest(study.ask()))
        latency = timed(params)
        print(f"  proposal {proposals}: {latency:.1f} ms (limit {limit:.1f})", flush=True)
        if latency <= limit:
            configs.append({"preset": None, "params": params, "latency_ms": latency})
    for entry in configs:
        entry["fingerprint"] = space.fingerprint(space.config_from_params(entry["params"]))
    return configs


def configs_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The configs a results file was run on, in their first row's order.

    Example:
        >>> configs_of([{"fingerprint": "a", "preset": None, "config": {}, "latency_ms": 3.0}])
        [{'preset': None, 'params': {}, 'latency_ms': 3.0, 'fingerprint': 'a'}]
    """
    configs: dict[str, dict[str, Any]] = {}
    for row in rows:
        configs.setdefault(
            row["fingerprint"],
            {"preset": row["preset"], "params": row["config"], "latency_ms": row["latency_ms"],
             "fingerprint": row["fingerprint"]},
        )  # fmt: skip
    return list(configs.values())


def run(args) -> int:
    """Train what the results file lacks, in an order that answers the most first."""
    from lce_nas.search.fidelity import proxy_steps
    from lce_nas.workers.trainer import ProxySettings, train_proxy

    base = ProxySettings(batch_size=args.batch_size)
    chosen, ladder = fidelities(args, base)
    print(ladder.describe(), flush=True)
    path = Path(args.results)
    if args.report_only:
        report(rows_of(read_rows(path), chosen), ladder)
        return 0
    rows = read_rows(path)
    # A resumed run trains the configs already in the file, even where the host's
    # latencies have moved since (they choose which sampled configs are in range).
    configs = configs_of(rows) or choose_configs(args)
    done = {_training(r["fingerprint"], r["settings"]) for r in rows}
    # Cheap fidelities and first seeds first: an interrupted run still ranks every config.
    plan = sorted(
        (
            (seed > 0, proxy_steps(settings) * settings.width, name, seed, index)
            for name, (settings, seeds) in chosen.items()
            for seed in range(seeds)
            for index in range(len(configs))
        ),
    )
    shard, shards = (int(part) for part in args.shard.split("/"))
    for _, _, name, seed, index in plan:
        if index % shards != shard:
            continue
        entry = configs[index]
        settings = chosen[name][0].replace(seed=seed)
        # The default is rung 0's budget: one training serves both names.
        if _training(entry["fingerprint"], settings.to_dict()) in done:
            continue
        started = time.perf_counter()
        result = train_proxy(args.space, entry["params"], settings, args.dataset)
        row = {
            "fingerprint": entry["fingerprint"],
            "preset": entry["preset"],
            "config": entry["params"],
            "latency_ms": entry["latency_ms"],
            "fidelity": name,
            "steps": proxy_steps(settings),
            "width": settings.width,
            "seed": seed,
            "top1": result.top1,
            "loss": result.evaluation.loss,
            "seconds": time.perf_counter() - started,
            "settings": settings.to_dict(),
        }
        done.add(_training(entry["fingerprint"], row["settings"]))
        with path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(
            f"  {name:>9} seed {seed} config {index:2d}: top-1 {row['top1']:.3f} "
            f"{row['seconds']:6.1f} s",
            flush=True,
        )
    # Every shard's rows: what the other processes wrote meanwhile counts too.
    report(rows_of(read_rows(path), chosen), ladder)
    return 0


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _training(fingerprint: str, settings: dict[str, Any]) -> str:
    """What identifies one training: the config and every proxy setting, seed included."""
    return fingerprint + json.dumps(settings, sort_keys=True)


def rows_of(rows: list[dict[str, Any]], chosen: dict[str, tuple[Any, int]]) -> list[dict[str, Any]]:
    """Each chosen fidelity's rows, found by their training settings and named after it.

    A row's own ``fidelity`` is the name it was trained under; matching on settings
    lets one file hold the rungs of several ladders (another ladder's ``rung-1`` is
    another budget) and lets one training count for two names (the default is
    rung 0's budget).

    Example:
        >>> from lce_nas.workers.trainer import ProxySettings
        >>> row = {"fingerprint": "f", "fidelity": "rung-0",
        ...        "settings": ProxySettings(seed=1).to_dict()}
        >>> chosen = {"rung-0": (ProxySettings(), 2), "default": (ProxySettings(), 2),
        ...           "rung-1": (ProxySettings(epochs=3), 2)}
        >>> [r["fidelity"] for r in rows_of([row], chosen)]
        ['rung-0', 'default']
    """
    selected = []
    for name, (settings, seeds) in chosen.items():
        wanted = {json.dumps(settings.replace(seed=s).to_dict(), sort_keys=True)
                  for s in range(settings.seed, settings.seed + seeds)}  # fmt: skip
        seen = set()
        for row in rows:
            training = _training(row["fingerprint"], row["settings"])
            if training not in seen and json.dumps(row["settings"], sort_keys=True) in wanted:
                seen.add(training)
                selected.append({**row, "fidelity": name})
    return selected


def seed_values(rows: list[dict[str, Any]], fidelity: str) -> dict[str, list[float]]:
    """Every seed's top-1 per fingerprint at one fidelity."""
    by: dict[str, list[float]] = {}
    for row in rows:
        if row["fidelity"] == fidelity:
            by.setdefault(row["fingerprint"], []).append(row["top1"])
    return by


def means(rows: list[dict[str, Any]], fidelity: str) -> dict[str, float]:
    """Mean top-1 per fingerprint at one fidelity."""
    return {f: statistics.fmean(v) for f, v in seed_values(rows, fidelity).items()}


def seed_sd(rows: list[dict[str, Any]], fidelity: str) -> float | None:
    """Pooled seed-to-seed standard deviation at one fidelity (configs with 2+ seeds)."""
    variances = [statistics.variance(v) for v in seed_values(rows, fidelity).values() if len(v) > 1]
    return math.sqrt(statistics.fmean(variances)) if variances else None


def separated_pairs(
    mean: dict[str, float], reference: dict[str, list[float]], z: float = 2.0
) -> tuple[int, int]:
    """Pairs of configs whose reference means differ by more than ``z`` combined standard
    errors, and how many of them ``mean`` orders the other way: (misordered, separated).

    Pairs inside the reference's own seed noise cannot count against a proxy (no
    ranking can agree with an order the reference does not know), so this is the
    part of tau's disagreement a better proxy could remove.

    Example:
        >>> separated_pairs({"a": 1, "b": 2}, {"a": [0.5, 0.52], "b": [0.8, 0.81]})
        (0, 1)
    """
    known = sorted(k for k, v in reference.items() if k in mean and len(v) > 1)
    misordered = separated = 0
    for i, a in enumerate(known):
        for b in known[i + 1 :]:
            ra, rb = reference[a], reference[b]
            gap = statistics.fmean(ra) - statistics.fmean(rb)
            stderr = math.sqrt(
                statistics.variance(ra) / len(ra) + statistics.variance(rb) / len(rb)
            )
            if abs(gap) > z * stderr:
                separated += 1
                misordered += gap * (mean[a] - mean[b]) < 0
    return misordered, separated


def tau_with_interval(
    a: dict[str, float], b: dict[str, float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float, int]:
    """Kendall's tau of ``a`` against ``b`` over their common configs, with a 95 % bootstrap
    interval over configs (resampled with replacement): (tau, low, high, configs).

    Example:
        >>> tau_with_interval({"x": 1, "y": 2, "z": 3}, {"x": 1, "y": 2, "z": 3})[:1]
        (1.0,)
    """
    from proxy_fidelity import kendall_tau

    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return float("nan"), float("nan"), float("nan"), len(common)
    tau = kendall_tau([a[k] for k in common], [b[k] for k in common])
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        pick = [rng.choice(common) for _ in common]
        value = kendall_tau([a[k] for k in pick], [b[k] for k in pick])
        if not math.isnan(value):
            draws.append(value)
    draws.sort()
    if not draws:
        return tau, float("nan"), float("nan"), len(common)
    low, high = draws[int(0.025 * len(draws))], draws[int(0.975 * len(draws)) - 1]
    return tau, low, high, len(common)


def training_cost(
    rows: list[dict[str, Any]], ladder, top: int | None = None, candidates: int = 100
) -> tuple[float, float]:
    """Seconds of training for ``candidates`` multi-fidelity and single-fidelity candidates.

    Multi-fidelity: every candidate trains rung 0, 1/eta of them rung 1, 1/eta^2 rung 2...
    (successive halving's expected share) up to rung ``top`` (default: the ladder's top),
    which trains the ladder's top seeds; per training, the mean measured wall time of
    that rung. Single fidelity: one default training each.
    """
    from lce_nas.search.fidelity import rung_label

    def mean_seconds(fidelity: str) -> float:
        values = [r["seconds"] for r in rows if r["fidelity"] == fidelity]
        return statistics.fmean(values) if values else float("nan")

    top = len(ladder.rungs) - 1 if top is None else top
    multi = sum(
        candidates / ladder.eta**k * (ladder.top.seeds if k == top else 1)
        * mean_seconds(rung_label(k))
        for k in range(top + 1)
    )  # fmt: skip
    return multi, candidates * mean_seconds("default")


def searched_seed_taus(
    rows: list[dict[str, Any]], fidelity: str, seeds: int, reference: dict[str, float]
) -> list[tuple[tuple[int, ...], float]]:
    """Tau against ``reference`` when the sampled configs keep only ``seeds`` of their seeds.

    A search trains a non-preset candidate's top rung with fewer seeds than the
    benchmark does (the presets keep all); this is the tau of each such choice.

    Example:
        >>> rows = [{"fidelity": "rung-1", "fingerprint": f, "preset": None, "seed": s,
        ...          "top1": t} for f, s, t in [("a", 0, .5), ("a", 1, .7), ("b", 0, .6),
        ...                                      ("b", 1, .6)]]
        >>> searched_seed_taus(rows, "rung-1", 1, {"a": 1.0, "b": 2.0})
        [((0,), 1.0), ((1,), -1.0)]
    """
    chosen = [r for r in rows if r["fidelity"] == fidelity]
    all_seeds = sorted({r["seed"] for r in chosen})
    if len(all_seeds) <= seeds:
        return []
    out = []
    for pick in itertools.combinations(all_seeds, seeds):
        kept = [r for r in chosen if r["preset"] or r["seed"] in pick]
        tau, *_ = tau_with_interval(means(kept, fidelity), reference)
        out.append((pick, tau))
    return out


def report(rows: list[dict[str, Any]], ladder) -> None:
    """Print every figure the README quotes, from the rows alone."""
    from lce_nas.search.fidelity import rung_label

    names = sorted({r["fidelity"] for r in rows}, key=lambda n: (n in ("default", "reference"), n))
    reference = means(rows, "reference")
    reference_seeds = seed_values(rows, "reference")
    header = (
        f"{'fidelity':>10} {'steps':>6} {'width':>7} {'configs':>7} {'seeds':>5} "
        f"{'s/config':>9} {'seed sd':>8} {'tau vs reference (95 % CI)':>28} "
        f"{'misordered':>10}  preset order"
    )
    print("\n" + header)
    for name in names:
        chosen = [r for r in rows if r["fidelity"] == name]
        mean = means(rows, name)
        tau, low, high, n = tau_with_interval(mean, reference)
        sd = seed_sd(rows, name)
        presets = {r["preset"]: mean[r["fingerprint"]] for r in chosen if r["preset"]}
        order = " < ".join(f"{p} {100 * presets[p]:.1f}" for p in sorted(presets, key=presets.get))
        per_config = statistics.fmean(r["seconds"] for r in chosen if r["seed"] == 0)
        seeds = max(r["seed"] for r in chosen) + 1
        sd_text = "-" if sd is None else f"{sd:.3f}"
        misordered, separated = separated_pairs(mean, reference_seeds)
        print(
            f"{name:>10} {chosen[0]['steps']:6d} {chosen[0]['width']:7g} {len(mean):7d} "
            f"{seeds:5d} {per_config:9.1f} {sd_text:>8} "
            f"{tau:7.3f} ({low:6.3f} to {high:6.3f}) n={n:<3d} "
            f"{f'{misordered}/{separated}':>10}  {order}"
            + ("  (published order)" if tuple(sorted(presets, key=presets.get)) == PUBLISHED_ORDER
               else "")
        )  # fmt: skip
    print(
        "\nmisordered: pairs of configs whose reference means differ by more than 2 "
        "standard errors, and how many of them the fidelity orders the other way"
    )
    top_name = rung_label(len(ladder.rungs) - 1)
    searched = searched_seed_taus(rows, top_name, ladder.top.seeds, reference)
    if searched:
        print(
            f"\n{top_name} as a search trains it ({ladder.top.seeds} seeds, presets all): tau "
            + ", ".join(f"{tau:.3f} (seeds {', '.join(map(str, pick))})" for pick, tau in searched)
        )
    print(f"\ntraining cost of 100 candidates ({ladder.top.seeds} seeds at the top rung):")
    for top in range(1, len(ladder.rungs)):
        multi, single = training_cost(rows, ladder, top)
        print(
            f"  rungs 0-{top} (eta {ladder.eta:g}): multi-fidelity {multi / 3600:.2f} h, "
            f"single fidelity {single / 3600:.2f} h, ratio {multi / single:.2f}"
        )
