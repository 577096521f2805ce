"""The dashboard: Pareto fronts, trials and latency breakdowns in the browser.

A read-only web app over the database a search writes (Optuna's study
tables and the latency tables), with a JSON API for scripts. It has no SQL
of its own: studies come through :mod:`lce_nas.search.reader` and
measurements through :mod:`lce_nas.latency_db.reader`, so its fronts are
the CLI's.

    from lce_nas.dashboard import create_app, serve
    serve(create_app("sqlite:///lce-nas.db"), host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "lce_nas.dashboard.app",
    "serve": "lce_nas.dashboard.server",
    "check_host": "lce_nas.dashboard.server",
    "is_loopback": "lce_nas.dashboard.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy, so that `import lce_nas.dashboard` does not load FastAPI.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lce_nas.dashboard' has no attribute {name!r}")
