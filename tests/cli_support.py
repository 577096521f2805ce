"""What the command-line tests share: the CLI in this process, and its one-line refusals."""

from __future__ import annotations

from click.testing import CliRunner, Result

from lce_nas.cli import main


def invoke(*args: str) -> Result:
    """``lce-nas ARGS...`` in this process."""
    return CliRunner().invoke(main, list(args))


def one_line_error(exit_code: int, output: str, *fragments: str) -> str:
    """Assert a refusal: exit code 2, one ``error:`` line with every fragment, no traceback."""
    assert exit_code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ") and "Traceback" not in output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
