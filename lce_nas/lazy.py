"""Lazy public names for a package: ``import lce_nas.engine`` loads nothing heavy.

Example:
    >>> __getattr__, __all__ = lazy_exports("pkg", {"sqrt": "math"})
    >>> __getattr__("sqrt")(4.0), __all__
    (2.0, ['sqrt'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """A module ``__getattr__`` that imports each name on first use, and ``__all__``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
