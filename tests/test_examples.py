"""Every docstring example in the package runs and shows what its docstring says.

The examples are the first thing a reader copies; run here, a change that
makes one wrong fails the suite instead of misleading the next reader.
Examples that need what a test machine lacks (a device, a server, a built
model file) are marked ``# doctest: +SKIP`` where they stand.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

#: The import package and the domain folders installed under it (see setup.py).
PACKAGES = (
    "lce_nas",
    "lce_nas.space",
    "lce_nas.engine",
    "lce_nas.latency_db",
    "lce_nas.workers",
    "lce_nas.search",
    "lce_nas.dashboard",
    "lce_nas.report",
    "lce_nas.predictor",
)


def _modules() -> list[str]:
    names: set[str] = set()
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names.add(package)
        names.update(info.name for info in pkgutil.walk_packages(path, f"{package}."))
    # Alembic's revision scripts run only inside a migration context, and a
    # ``__main__`` runs its command when imported.
    return sorted(n for n in names if ".migrations." not in n and not n.endswith(".__main__"))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in finder.find(module, name):
        result = runner.run(test, out=failures.append)
        if result.failed:
            failures.append(f"^ in {test.name}\n")
    assert not failures, "".join(failures)
