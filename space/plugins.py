"""Search spaces from other packages, through the entry-point group ``lce_nas.spaces``.

A package registers a space in its ``pyproject.toml``::

    [project.entry-points."lce_nas.spaces"]
    tinynet = "tinynet_space:TinyNetSpace"

The object named is a :class:`~lce_nas.space.base.SearchSpace` subclass whose
``name`` is the entry point's name. Plug-ins load on first use of the
registry; one that fails to import is reported by name and the other spaces
stay available.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

GROUP = "lce_nas.spaces"


@dataclass(frozen=True)
class PluginFailure:
    """A plug-in space that could not be loaded, and why (one line)."""

    name: str
    package: str
    reason: str

    def __str__(self) -> str:
        return f"plug-in space '{self.name}' from package '{self.package}' {self.reason}"


def discover() -> tuple[list[tuple[type, str, str]], list[PluginFailure]]:
    """Load every ``lce_nas.spaces`` entry point: (class, package, origin) and failures.

    Example:
        >>> spaces, failures = discover()
        >>> all(origin.startswith("plug-in") for _, _, origin in spaces)
        True
    """
    from lce_nas.space.base import SearchSpace

    loaded: list[tuple[type, str, str]] = []
    failures: list[PluginFailure] = []
    for entry in metadata.entry_points(group=GROUP):
        package = entry.dist.name if entry.dist is not None else "?"
        version = entry.dist.version if entry.dist is not None else "?"
        try:
            cls = entry.load()
        except Exception as err:  # any error in foreign code must not hide the other spaces
            reason = f"{type(err).__name__}: {err}".splitlines()[0]
            failures.append(PluginFailure(entry.name, package, f"failed to import ({reason})"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, SearchSpace)):
            failures.append(
                PluginFailure(entry.name, package, f"names {entry.value}, not a SearchSpace class")
            )
            continue
        if getattr(cls, "name", None) != entry.name:
            failures.append(
                PluginFailure(
                    entry.name,
                    package,
                    f"names a space called {getattr(cls, 'name', None)!r}; "
                    "the entry point and the space need the same name",
                )
            )
            continue
        loaded.append((cls, package, f"plug-in {package} {version} ({entry.value})"))
    return loaded, failures
