"""Errors that reach the user as one line, with a hint on how to fix them."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, not a bug.

    The CLI prints ``error: <message>`` on one line and exits with code 2,
    without a traceback.

    Example:
        >>> raise UserError("unknown space 'foo' (choose from: quicknet)")
        Traceback (most recent call last):
        ...
        lce_nas.errors.UserError: unknown space 'foo' (choose from: quicknet)
    """

    exit_code = 2
