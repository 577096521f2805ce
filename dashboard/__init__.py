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

from lce_nas.lazy import lazy_exports

_EXPORTS = {
    "create_app": "lce_nas.dashboard.app",
    "serve": "lce_nas.dashboard.server",
    "check_host": "lce_nas.dashboard.server",
    "is_loopback": "lce_nas.dashboard.server",
}

# Lazy, so that importing the package loads nothing heavy.
__getattr__, __all__ = lazy_exports("lce_nas.dashboard", _EXPORTS)
