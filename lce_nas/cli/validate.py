"""Checks of command-line input made at the edge, before any work starts.

Each check raises :class:`~lce_nas.errors.UserError` with one line that says
what is wrong and how to fix it, so the CLI prints ``error: ...`` and exits 2.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import click

from lce_nas.errors import UserError

#: Deepest nesting of ``[`` and ``{`` a parameter document may have.
MAX_PARAMS_DEPTH = 32
#: Largest ``--params-file`` read (a config is a few hundred bytes).
MAX_PARAMS_BYTES = 1 << 20
#: Formats ``front --plot`` writes, by file suffix.
PLOT_FORMATS = (".png", ".pdf", ".svg")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text, brackets in strings aside.

    Example:
        >>> json_depth('{"a": [[1], "]]]"]}')
        3
    """
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_params(text: str, source: str = "--params") -> Any:
    """Architecture parameters from JSON text, refusing deep nesting before parsing.

    Example:
        >>> parse_params('{"kernel_size": 5}')
        {'kernel_size': 5}
    """
    if len(text) > MAX_PARAMS_BYTES:
        raise UserError(f"{source}: {len(text):,} characters is too long for an architecture")
    depth = json_depth(text)
    if depth > MAX_PARAMS_DEPTH:
        raise UserError(
            f"{source}: JSON nested {depth} levels deep (at most {MAX_PARAMS_DEPTH}); "
            'give a flat object such as {"kernel_size": 3}'
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(
            f"malformed JSON in {source}: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except ValueError as err:
        # e.g. an integer with more digits than Python converts.
        raise UserError(f"malformed JSON in {source}: {str(err).split(';')[0]}") from None


def read_params_file(path: Path) -> str:
    """The text of a ``--params-file``: UTF-8, small, not binary.

    Example:
        >>> read_params_file(Path("nowhere.json"))
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: cannot read --params-file nowhere.json: No such file or directory
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PARAMS_BYTES + 1)
    except OSError as err:
        raise UserError(f"cannot read --params-file {path}: {err.strerror}") from None
    if len(data) > MAX_PARAMS_BYTES:
        raise UserError(
            f"--params-file {path} is larger than {MAX_PARAMS_BYTES >> 20} MiB; "
            "give a JSON file with the architecture's parameters"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError(
            f"--params-file {path} is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}); "
            "give a JSON file with the architecture's parameters"
        ) from None
    if "\x00" in text:
        raise UserError(f"--params-file {path} is binary (it holds NUL bytes); give a JSON file")
    return text


def writable_output(path: Path, option: str = "output") -> Path:
    """Fail early, before minutes of work, if ``path`` cannot be written.

    The check opens the file (or a scratch file beside it) for writing, so
    folders that refuse files, such as ``/proc``, are caught as well as
    missing and read-only ones; an existing file is left as it is.

    Example:
        >>> writable_output(Path("/proc/front.csv"), "--csv")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: --csv /proc/front.csv: cannot write there (...); give a path ...
    """
    path = Path(path)
    target = path.expanduser()
    if target.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise UserError(f"{option} {path}: folder {parent} does not exist; create it first")
    try:
        if target.exists():
            with target.open("ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}."):
                pass
    except OSError as err:
        raise UserError(
            f"{option} {path}: cannot write there ({err.strerror or err}); "
            "give a path in a writable folder"
        ) from None
    return path


def write_error(path: Path | str, err: OSError, option: str = "output") -> UserError:
    """The one-line error for a write that failed after the early check passed.

    Example:
        >>> str(write_error("x.csv", OSError(28, "No space left on device")))
        'cannot write output x.csv: No space left on device'
    """
    return UserError(f"cannot write {option} {path}: {err.strerror or err}")


def plot_path(path: Path) -> Path:
    """A ``--plot`` path whose suffix names a format the plot can be written in.

    Example:
        >>> plot_path(Path("front.bogus"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: --plot front.bogus: unknown format '.bogus' (use .png, ...)
    """
    suffix = path.suffix.lower()
    if suffix not in PLOT_FORMATS:
        shown = repr(suffix) if suffix else "no suffix"
        raise UserError(
            f"--plot {path}: unknown format {shown} "
            f"(use {', '.join(PLOT_FORMATS[:-1])} or {PLOT_FORMATS[-1]})"
        )
    return writable_output(path, "--plot")


class ThreadCount(click.ParamType):
    """A thread count: at least 1, or -1 for the tool's default (TFLite's convention)."""

    name = "THREADS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The count, or a usage error for 0 and counts below -1."""
        try:
            count = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        if count == 0 or count < -1:
            self.fail(f"{count} threads (use 1 or more, or -1 for the default)", param, ctx)
        return count


class FiniteFloatRange(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (click's range lets NaN through).

    Example:
        >>> FiniteFloatRange(min=0).convert("1.5", None, None)
        1.5
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or a usage error when it is not finite or out of range."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number
