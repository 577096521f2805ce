"""Commands of the search: ``search``, ``front`` and ``export``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lce_nas.cli import validate
from lce_nas.cli.options import (
    count_option,
    db_option,
    deploy_shape_options,
    device_host_overrides,
    device_options,
    limit_option,
    parse_duration,
    proxy_options,
    resolve_deploy_shape,
    writable_output,
)
from lce_nas.errors import UserError
from lce_nas.latency_db.connect import display_url


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
    group.add_command(search)
    group.add_command(front)
    group.add_command(export)


class _RichReporter:
    """A progress bar with completed/failed counts, best accuracy and front size."""

    def __init__(self, progress, task) -> None:
        self.progress, self.task = progress, task

    def update(self, stats, total) -> None:
        best = "-" if stats.best_accuracy is None else f"{stats.best_accuracy:.3f}"
        self.progress.update(
            self.task,
            completed=stats.completed + stats.failed,
            total=total,
            description=(
                f"completed {stats.completed} (infeasible {stats.infeasible}) · failed "
                f"{stats.failed} · best feasible acc {best} · front {stats.front_size}"
            ),
        )

    def log(self, line: str) -> None:
        self.progress.console.print(f"[yellow]{line}[/]")


#: The multi-fidelity flags, in the order ``--help`` lists them: flag, type, help.
_LADDER_FLAGS: tuple[tuple[str, Any, str], ...] = (
    (
        "--max-steps",
        click.IntRange(min=1),
        "the top rung's optimizer steps; candidates climb rungs --eta apart "
        "and only the best of each rung go on [default: 500].",
    ),
    (
        "--min-steps",
        click.IntRange(min=1),
        "the lowest rung's steps at least [default: the proxy's, 125].",
    ),
    (
        "--eta",
        float,
        "steps grow by this from rung to rung, and 1/eta of a rung "
        "climbs on [default: 4; 3 once --max-steps or --min-steps is given].",
    ),
    (
        "--widths",
        None,
        "width multiplier per rung, lowest first (e.g. 0.0625,0.25), "
        "or one for all [default: 0.0625,0.125; the proxy's --width once --width, --max-steps, "
        "--min-steps or --eta is given].",
    ),
    (
        "--top-seeds",
        click.IntRange(min=1),
        "seeds at the top rung (presets take at least 3) [default: 2].",
    ),
)


def _ladder_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The multi-fidelity flags and ``--single-fidelity``, as :func:`ladder_settings` takes them.

    Example:
        >>> @click.command()
        ... @_ladder_options
        ... def run(max_steps, min_steps, eta, widths, top_seeds, single_fidelity): ...
        >>> [p.name for p in run.params]
        ['max_steps', 'min_steps', 'eta', 'widths', 'top_seeds', 'single_fidelity']
    """
    func = click.option(
        "--single-fidelity",
        is_flag=True,
        help="Train every candidate once with the proxy as given (--epochs, --subset, --width), "
        "no rungs; also what --epochs or --subset alone mean.",
    )(func)
    # click lists options in decorator order, outermost first: add them last to first.
    for flag, kind, text in reversed(_LADDER_FLAGS):
        func = click.option(flag, type=kind, help=f"Multi-fidelity: {text}")(func)
    return func


@click.command()
@click.option("--space", "space_name", default="quicknet", show_default=True)
@deploy_shape_options
@device_options
@click.option("--study-name", help="Name of the study (default: SPACE-DEVICE); same name resumes.")
@click.option("--resume", is_flag=True, help="Require an existing study of that name.")
@click.option(
    "--sampler", default="tpe", show_default=True, type=click.Choice(["tpe", "nsga2", "random"])
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    help="Total trials in the study, QuickNet presets included "
    "(with neither budget given: 10 trials, proposals stop after 12 minutes).",
)
@click.option("--time-budget", help="Stop proposing after this long, e.g. 2h or 30m.")
@count_option("--parallel", 2, "Candidates in flight at once.")
@limit_option("--max-latency-ms", "Latency limit: slower candidates are not trained.")
@limit_option("--max-size-mb", "Packed model size limit (binary weights at 1 bit).")
@click.option(
    "--predictor/--no-predictor",
    default=True,
    show_default=True,
    help="Predict each candidate's latency from the database first and skip those whose "
    "whole interval lies above the limit (or the reference latency).",
)
@click.option(
    "--predictor-min-models",
    type=click.IntRange(min=2),
    default=None,
    help="Profiled models the key needs before predictions skip anything "
    "[default: 20; see `lce-nas calibrate`].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed.")
@count_option("--max-failures", 5, "Stop after this many failed trials in a row.")
@click.option(
    "--ray-address",
    help="Join an existing Ray cluster (HOST:PORT of its head, with the cluster's token) "
    "instead of starting a local Ray.",
)
@click.option(
    "--trainer-gpus",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="GPUs each proxy trainer asks Ray for (trainers then run on nodes that have them).",
)
@_ladder_options
@proxy_options
@db_option
def search(
    space_name,
    input_shape_text,
    classes_text,
    device_name,
    device_host,
    study_name,
    resume,
    sampler,
    trials,
    time_budget,
    parallel,
    max_latency_ms,
    max_size_mb,
    predictor,
    predictor_min_models,
    seed,
    max_failures,
    ray_address,
    trainer_gpus,
    max_steps,
    min_steps,
    eta,
    widths,
    top_seeds,
    single_fidelity,
    dataset,
    proxy,
    db,
) -> None:
    """Search the space for the accuracy/latency front on a device.

    \b
    lce-nas search --space quicknet --device host
    lce-nas search --device rpi4 --device-host pi@raspberrypi.local --time-budget 8h
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lce_nas.search.run import (
        DEFAULT_TIME_BUDGET_S,
        DEFAULT_TRIALS,
        SearchSettings,
        run_search,
    )
    from lce_nas.settings import resolve_db_url

    url = resolve_db_url(db)
    _quiet_optuna()
    overrides = device_host_overrides(device_host)
    # Bad names and incomplete profiles fail here, before Ray or the study start.
    from lce_nas.engine.devices import get_device
    from lce_nas.space import get_space
    from lce_nas.workers.ray_setup import check_ray_version

    get_space(space_name)
    get_device(device_name, **overrides)
    check_ray_version()
    shape = resolve_deploy_shape(input_shape_text, classes_text)
    default_name = f"{space_name}-{device_name}"
    if not shape.is_default:
        # Another shape is another study: its latencies never share a front.
        default_name += "-" + shape.label.replace("/", "-")
    name = study_name or default_name
    budget_s = parse_duration(time_budget)
    if trials is None and budget_s is None:
        trials, budget_s = DEFAULT_TRIALS, DEFAULT_TIME_BUDGET_S
    if resume:
        _require_study(url, name)
    ladder = ladder_settings(
        max_steps, min_steps, eta, widths, top_seeds, single_fidelity,
        lambda: study_ladder(url, name),
    )  # fmt: skip
    settings = SearchSettings(
        study_name=name,
        space=space_name,
        device=device_name,
        deploy_shape=shape.label,
        sampler=sampler,
        trials=trials,
        time_budget_s=budget_s,
        parallel=parallel,
        max_latency_ms=max_latency_ms,
        max_size_mb=max_size_mb,
        predictor=predictor,
        predictor_min_models=predictor_min_models,
        dataset=dataset,
        proxy=proxy,
        seed=seed,
        max_consecutive_failures=max_failures,
        ray_address=ray_address,
        trainer_gpus=trainer_gpus,
        device_overrides=overrides,
        **ladder,
    )
    console = Console()
    console.print(f"study [bold]{name}[/] in {display_url(url)}")
    multi_fidelity = settings.max_steps is not None
    console.print(
        f"{'multi-fidelity' if multi_fidelity else 'single fidelity'}: "
        f"{settings.ladder().describe()}"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("starting Ray and the device worker", total=trials)
        try:
            outcome = run_search(settings, url, _RichReporter(progress, task))
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                f"interrupted: finished trials are saved; run the same command to resume "
                f"study '{name}'"
            )
            raise SystemExit(130) from None
    if outcome.requeued:
        console.print(f"re-queued trials left running by an earlier run: {outcome.requeued}")
    stats = outcome.stats
    console.print(
        f"{stats.stop_reason}: {stats.completed} completed ({stats.infeasible} infeasible), "
        f"{stats.failed} failed; trained {stats.trained}, timed {stats.timed}, "
        f"{stats.cache_hits} answers from the database, "
        f"{stats.predicted_out} predicted out (not converted)",
        soft_wrap=True,
    )
    if multi_fidelity:
        console.print(
            f"successive halving: {stats.promoted} promotions, "
            f"{stats.stopped} candidates stopped below the top rung (never on the front)"
        )
    _print_placements(console, outcome)
    _print_front(console, outcome.results)
    again = _db_flag(db, url)
    console.print(
        f"\ndatabase: {display_url(url)}\n"
        f"dashboard: lce-nas dashboard{again}\n"
        f"export:    lce-nas export{again} --study {name} --front -o exports",
        soft_wrap=True,
        highlight=False,
    )
    if outcome.status == "failed":
        raise SystemExit(1)


@click.command()
@click.option(
    "--study",
    "study_names",
    required=True,
    multiple=True,
    help="Study name; repeat it to put several studies' fronts side by side.",
)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the front as CSV.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    help="Write a static plot (PNG, PDF or SVG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the front as JSON rows.")
@click.option("--all", "all_trials", is_flag=True, help="Every trial, not only the front.")
@db_option
def front(study_names, csv_path, plot_path, as_json, all_trials, db) -> None:
    """Print a study's feasible Pareto front (accuracy vs latency).

    \b
    lce-nas front --study quicknet-host
    lce-nas front --study quicknet-host --study birealnet-host --study binarydensenet-host
    """
    from rich.console import Console

    from lce_nas.search.results import load_front
    from lce_nas.settings import resolve_db_url

    url = resolve_db_url(db)
    if len(study_names) > 1:
        _compare_fronts(url, study_names, csv_path, plot_path, all_trials, as_json)
        return
    (study_name,) = study_names
    if csv_path is not None:
        writable_output(csv_path, "--csv")
    if plot_path is not None:
        validate.plot_path(plot_path)
    # The CSV and the plot show every feasible trial; the table and JSON the front.
    whole = all_trials or csv_path is not None or plot_path is not None
    results = load_front(url, study_name, every_trial=whole)
    rows = results.rows(every_trial=all_trials)
    if csv_path is not None:
        try:
            _write_csv(csv_path, rows)
        except OSError as err:
            raise validate.write_error(csv_path, err, "--csv") from None
    if plot_path is not None:
        from lce_nas.search.plot import plot_front

        try:
            plot_front(results, plot_path)
        except OSError as err:
            raise validate.write_error(plot_path, err, "--plot") from None
    if as_json:
        # The same object as the dashboard's /api/studies/NAME/front.
        click.echo(json.dumps(results.to_json(every_trial=all_trials), indent=2))
        return
    console = Console()
    _print_front(console, results, rows)
    for path in (csv_path, plot_path):
        if path is not None:
            console.print(f"wrote {path}")


@click.command()
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--front", "whole_front", is_flag=True, help="Every model of the front (default).")
@click.option("--trial", type=click.IntRange(min=0), help="One trial, by number.")
@limit_option("--best-under-ms", "The most accurate model under this latency.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write into.",
)
@db_option
def export(study_name, whole_front, trial, best_under_ms, output, db) -> None:
    """Export models of a study: .tflite (LCE), Keras .h5 and model_card.json."""
    from lce_nas.latency_db import LatencyStore
    from lce_nas.search.export import export_rows, select_rows
    from lce_nas.search.results import load_front
    from lce_nas.settings import resolve_db_url

    flags = {"--front": whole_front, "--trial": trial, "--best-under-ms": best_under_ms}
    if sum(value is not None and value is not False for value in flags.values()) > 1:
        raise UserError("give one of --front, --trial or --best-under-ms")
    url = resolve_db_url(db)
    results = load_front(url, study_name)
    rows = select_rows(results, front=whole_front, trial=trial, best_under_ms=best_under_ms)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create {output}: {err.strerror}") from None
    writable_output(output / "x")
    with LatencyStore(url) as store:
        for folder in export_rows(results, rows, output, store):
            click.echo(f"wrote {folder}/ (model.tflite, model.h5, model_card.json)")


#: What ``study_ladder`` answers for a study that does not exist yet.
NO_STUDY = "no study"


def study_ladder(url: str, name: str) -> dict | str | None:
    """The ladder study ``name`` was made with (None: single fidelity), or :data:`NO_STUDY`."""
    from sqlalchemy.exc import SQLAlchemyError

    from lce_nas.search.reader import StudyNotFound
    from lce_nas.search.results import open_reader

    try:
        reader = open_reader(url)
    except UserError:
        return NO_STUDY  # no database yet; the search itself reports one it cannot open
    try:
        return reader.study(name).meta.get("ladder")
    except (StudyNotFound, SQLAlchemyError):
        return NO_STUDY  # what the search reports when it opens the database
    finally:
        reader.close()


def ladder_settings(
    max_steps, min_steps, eta, widths, top_seeds, single_fidelity, stored: Callable[[], Any]
) -> dict:
    """``SearchSettings`` fields of the multi-fidelity flags, checked against the proxy's.

    Multi-fidelity is the default (:data:`~lce_nas.search.fidelity.DEFAULT_MAX_STEPS`,
    chosen by the fidelity benchmark); each ladder flag changes its own part.
    ``--single-fidelity``, or ``--epochs``/``--subset`` without ladder flags (one
    fixed budget), trains once with the proxy as given. Without ladder flags, a
    study that exists resumes with the ladder it was made with, single fidelity
    included: ``stored()`` reads it (:func:`study_ladder`), only then, since
    opening the database costs a connection.
    """
    from lce_nas.search.fidelity import (
        DEFAULT_ETA,
        DEFAULT_MAX_STEPS,
        DEFAULT_WIDTHS,
        ladder_arguments,
    )

    context = click.get_current_context()
    given = {
        flag: value
        for flag, value in (
            ("--max-steps", max_steps),
            ("--min-steps", min_steps),
            ("--eta", eta),
            ("--widths", widths),
            ("--top-seeds", top_seeds),
        )
        if value is not None
    }
    if single_fidelity:
        if given:
            raise UserError(
                f"--single-fidelity trains once, with no rungs: drop {', '.join(given)} "
                "(or --single-fidelity)"
            )
        return {}
    on_command_line = {
        name
        for name in ("epochs", "subset", "width")
        if context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
    fixed = [f"--{name}" for name in ("epochs", "subset") if name in on_command_line]
    if fixed and not given:
        return {}
    if fixed:
        raise UserError(
            f"{' and '.join(fixed)} {'fixes' if len(fixed) == 1 else 'fix'} one training "
            "budget; with a ladder each rung sets its own (use --min-steps/--max-steps, "
            "or --single-fidelity)"
        )
    if not given:
        ladder = stored()
        if ladder != NO_STUDY:
            return ladder_arguments(ladder)
    fields: dict = {"max_steps": DEFAULT_MAX_STEPS if max_steps is None else max_steps}
    if min_steps is not None:
        fields["min_steps"] = min_steps
    if eta is not None:
        fields["eta"] = eta
    elif not {"--max-steps", "--min-steps"} & set(given):
        # The benchmark chose eta 4 for the default top rung only.
        fields["eta"] = DEFAULT_ETA
    if top_seeds is not None:
        fields["top_seeds"] = top_seeds
    if widths is not None:
        fields["widths"] = _widths(widths)
    elif not ({"--max-steps", "--min-steps", "--eta"} & set(given) or "width" in on_command_line):
        # Likewise these widths.
        fields["widths"] = DEFAULT_WIDTHS
    return fields


def _widths(text: str) -> tuple[float, ...]:
    """``--widths`` as numbers.

    Example:
        >>> _widths("0.0625, 0.25")
        (0.0625, 0.25)
    """
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(
            f"--widths {text!r}: give width multipliers separated by commas, e.g. 0.0625,0.25"
        ) from None


def _db_flag(db: str | None, url: str) -> str:
    """The ``--db`` that names the same database in a hint, never with its password.

    Without ``--db`` the next command resolves the same URL ($LCE_NAS_DB or
    the default), so the hint needs none; a URL with a password is shown
    hidden, for the user to fill in.

    Example:
        >>> _db_flag("postgresql://me:pw@db/lce", "postgresql://me:pw@db/lce")
        " --db 'postgresql+psycopg://me:***@db/lce'"
    """
    import shlex

    return "" if db is None else " --db " + shlex.quote(display_url(url))


def _print_placements(console, outcome) -> None:
    """Which Ray nodes trained and timed (short node ids), and what was submitted again."""
    for stage, nodes in outcome.placements.items():
        if nodes:
            where = ", ".join(f"{node} {count}" for node, count in nodes.items())
            console.print(f"{stage} ran on Ray nodes: {where}")
    lost = ", ".join(f"{stage} {n}" for stage, n in outcome.resubmitted.items() if n)
    if lost:
        console.print(f"submitted again after losing a node: {lost}")


def _quiet_optuna() -> None:
    import optuna

    # The progress bar says what happens; Optuna's per-trial INFO lines would interleave.
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _require_study(url: str, name: str) -> None:
    from lce_nas.search.results import load_front

    load_front(url, name)


#: Columns of ``lce-nas front --csv`` (keys of the front's JSON rows).
CSV_COLUMNS = (
    "number",
    "preset",
    "accuracy",
    "accuracy_stderr",
    "rung",
    "latency_ms",
    "latency_p10_ms",
    "latency_p90_ms",
    "parameters",
    "binary_macs",
    "packed_bytes",
    "fingerprint",
    "on_front",
    "dominates_presets",
    "ties_presets",
    "state",
    "failure",
)


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            lists = {k: " ".join(row[k]) for k in ("dominates_presets", "ties_presets")}
            writer.writerow({**row, **lists})


def _compare_fronts(url, study_names, csv_path, plot_path, all_trials, as_json) -> None:
    from rich.console import Console
    from rich.table import Table

    from lce_nas.search.compare import comparison_rows
    from lce_nas.search.results import load_front

    if csv_path or plot_path or all_trials:
        raise UserError("--csv, --plot and --all take one --study; compare fronts with --json")
    if len(set(study_names)) < len(study_names):
        raise UserError("each --study may be given once")
    rows = comparison_rows([load_front(url, name, every_trial=False) for name in study_names])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"fronts of {', '.join(study_names)} (* on the joint front)")
    for column in ("study", "space", "trial", "accuracy", "latency ms", "params", "fingerprint"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["study"],
            row["space"] or "-",
            f"{row['number']}" + (f" ({row['preset']})" if row["preset"] else ""),
            f"{row['accuracy']:.3f}" + (" *" if row["on_joint_front"] else ""),
            f"{row['latency_ms']:.2f}",
            f"{row['parameters'] / 1e6:.2f}M" if row["parameters"] else "-",
            (row["fingerprint"] or "")[:12],
        )
    Console().print(table)


def _print_front(console, results, rows=None) -> None:
    from rich.table import Table

    rows = results.rows() if rows is None else rows
    if not rows:
        limit = (results.meta.get("constraints") or {}).get("max_latency_ms")
        why = f" under {limit} ms" if limit else ""
        console.print(f"the front of '{results.name}' is empty: no feasible trial{why} yet")
        return
    from lce_nas.search.fidelity import accuracy_fidelity, stored_rungs

    hv = "-" if results.hypervolume is None else f"{results.hypervolume:.4g}"
    table = Table(
        title=f"front of {results.name} (hypervolume {hv})",
        caption=f"accuracy: {accuracy_fidelity(results.meta)}",
    )
    ladder = bool(stored_rungs(results.meta))
    for column in (
        "trial",
        "accuracy",
        *(["rung"] if ladder else []),
        "latency ms (p10-p90)",
        "params",
        "binary MACs",
        "packed MB",
        "fingerprint",
        "dominates",
        "tied with",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        latency = "-"
        if row["latency_ms"] is not None:
            latency = f"{row['latency_ms']:.2f}"
            if row["latency_p10_ms"] is not None and row["latency_p90_ms"] is not None:
                latency += f" ({row['latency_p10_ms']:.2f}-{row['latency_p90_ms']:.2f})"
        rung = [] if not ladder else [f"{row['rung']}/{row['rungs'] - 1}" if row["rungs"] else "-"]
        table.add_row(
            f"{row['number']}" + (f" ({row['preset']})" if row["preset"] else ""),
            _accuracy_text(row),
            *rung,
            latency,
            f"{row['parameters'] / 1e6:.2f}M" if row["parameters"] else "-",
            f"{row['binary_macs'] / 1e9:.2f}G" if row["binary_macs"] else "-",
            f"{row['packed_bytes'] / 1e6:.2f}" if row["packed_bytes"] else "-",
            (row["fingerprint"] or "")[:12],
            ", ".join(row["dominates_presets"]) or "-",
            ", ".join(row["ties_presets"]) or "-",
        )
    console.print(table)


def _accuracy_text(row: dict) -> str:
    """A row's accuracy with its standard error where it has one.

    Example:
        >>> _accuracy_text({"accuracy": 0.6123, "accuracy_stderr": 0.0081})
        '0.612 ± 0.008'
    """
    if row["accuracy"] is None:
        return "-"
    text = f"{row['accuracy']:.3f}"
    if row.get("accuracy_stderr") is not None:
        text += f" ± {row['accuracy_stderr']:.3f}"
    return text
