"""Counting timings when the speed sentinel may have re-timed some of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def first_timings(measurements: Iterable[Any]) -> list[Any]:
    """The measurements that are not re-times on a core the speed sentinel found slow.

    A re-time names the measurement it re-times in ``host_facts["retime_of"]``
    (``lce_nas.workers.device``), so a test can tell it from a model timed twice.
    """
    return [m for m in measurements if "retime_of" not in m.host_facts]
