"""``lce-nas dashboard``: Pareto fronts, trials and latency breakdowns in the browser."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from lce_nas.cli.options import db_option
from lce_nas.errors import UserError


def register(group: click.Group) -> None:
    """Add the ``dashboard`` command to the CLI."""
    group.add_command(dashboard)


@click.command("dashboard")
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. One reachable from other machines (e.g. 0.0.0.0) is "
    "served only when given here, and only with an access token.",
)
@click.option(
    "--token",
    envvar="LCE_NAS_DASHBOARD_TOKEN",
    show_envvar=True,
    help="Access token every client must present (required beyond loopback): a bearer "
    "header, or ?token= once in a browser, which then keeps a cookie.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--exports",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder `lce-nas export -o` wrote to: trial pages offer its .tflite and model card.",
)
@click.option(
    "--refresh",
    type=click.FloatRange(0),
    default=5.0,
    show_default=True,
    help="Seconds between a page's updates (0: no live updates).",
)
@click.pass_context
def dashboard(
    ctx: click.Context,
    db: str | None,
    host: str,
    token: str | None,
    port: int,
    exports: Path | None,
    refresh: float,
) -> None:
    """Serve a read-only web dashboard of the database's studies.

    Pages: studies, a study's Pareto front, hypervolume and trials, a trial's
    latency breakdown and per-op profile, and fronts compared across studies
    or devices; a JSON API under /api serves everything they show.
    """
    from lce_nas.dashboard.app import create_app
    from lce_nas.dashboard.server import check_host, serve
    from lce_nas.settings import resolve_db_url

    explicit = ctx.get_parameter_source("host") == ParameterSource.COMMANDLINE
    check_host(host, allow_remote=explicit, token=token)  # before the database is opened
    if exports is not None and not exports.is_dir():
        raise UserError(f"--exports {exports}: no such folder")
    url = resolve_db_url(db)
    app = create_app(url, exports=exports, refresh_s=refresh)
    click.echo(f"Reading {app.state.data.display_url} (read-only)")
    serve(
        app,
        host,
        port,
        allow_remote=explicit,
        token=token,
        announce=click.echo,
        warn=lambda message: click.echo(message, err=True),
    )
