"""The ``lce-nas`` command line.

Each domain keeps its commands in a module of this package with a
``register(group)`` function; heavy imports (TensorFlow, Ray) happen inside
the commands so that ``--help`` and bad input answer at once.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from lce_nas import __version__
from lce_nas.errors import UserError

# Modules whose commands the CLI lists; each must only list commands that work.
COMMAND_MODULES = (
    "space_cmds",
    "db_cmds",
    "engine_cmds",
    "workers_cmds",
    "search_cmds",
    "dashboard_cmds",
    "report_cmds",
    "predict_cmds",
)


class _Group(click.Group):
    """A group that turns a :class:`UserError` or a bad option into one line and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as err:
            click.echo(f"error: {_redacted(str(err))}", err=True)
            ctx.exit(err.exit_code)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as err:
            # Click's own form is three lines; scripts and users read one.
            where = err.ctx.command_path if err.ctx is not None else ctx.command_path
            message = _redacted(err.format_message())
            click.echo(f"error: {message} (see '{where} --help')", err=True)
            ctx.exit(err.exit_code)


def _redacted(message: str) -> str:
    """The message with any URL's password hidden (a database URL may carry one)."""
    from lce_nas.latency_db.connect import redact_urls

    return redact_urls(message)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lce-nas")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's and Ray's own logs.")
def main(verbose: bool) -> None:
    """Search Binarized Neural Networks by latency measured with Larq Compute Engine."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        _quiet_python_warnings()


def _quiet_python_warnings() -> None:
    import logging
    import warnings

    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    # Keras/larq deprecation warnings are noise for users of the tool.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
