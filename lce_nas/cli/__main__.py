"""``python -m lce_nas.cli``: the same as the ``lce-nas`` command."""

from lce_nas.cli import main

main(prog_name="lce-nas")
