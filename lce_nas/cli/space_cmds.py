"""Commands about search spaces: ``spaces``, ``describe``, ``convert``."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI."""
