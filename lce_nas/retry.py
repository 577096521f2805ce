"""One retry policy: retry a transient failure with exponential backoff, then give up clearly.

Devices (SSH, adb) retry a few times with a reconnect before each new try; the
database retries lock and serialisation conflicts until a deadline, with jitter.
Both are this one loop with their own :class:`Backoff`, test of what is
transient, notice and final message.

Example:
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("dropped")
    ...     return "ok"
    >>> retry(flaky, Backoff(first_s=0.0, tries=3),
    ...       transient=lambda err: isinstance(err, ConnectionError))
    'ok'
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How long to wait before each new try, and when to stop trying.

    The wait before try ``n + 1`` is ``first_s * factor ** (n - 1)``, capped at
    ``max_s``, times a random factor in [0.5, 1.5) with ``jitter`` (so that
    writers that collided do not collide again). Trying stops after ``tries``
    tries, or once ``deadline_s`` seconds have passed since the first one.

    Example:
        >>> [Backoff(first_s=1.0, tries=4).delay(n) for n in (1, 2, 3)]
        [1.0, 2.0, 4.0]
    """

    first_s: float
    factor: float = 2.0
    max_s: float = math.inf
    tries: int | None = None
    deadline_s: float | None = None
    jitter: bool = False

    def delay(self, failed_tries: int) -> float:
        """Seconds to wait after ``failed_tries`` failures (without jitter)."""
        return min(self.first_s * self.factor ** (failed_tries - 1), self.max_s)

    def exhausted(self, failed_tries: int, elapsed_s: float) -> bool:
        """Whether to give up after ``failed_tries`` failures in ``elapsed_s`` seconds."""
        if self.tries is not None and failed_tries >= max(1, self.tries):
            return True
        return self.deadline_s is not None and elapsed_s > self.deadline_s


def retry(
    action: Callable[[], T],
    backoff: Backoff,
    *,
    transient: Callable[[Exception], bool],
    before_retry: Callable[[], None] | None = None,
    on_retry: Callable[[Exception, float, int], None] | None = None,
    give_up: Callable[[Exception, int], Exception] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``action`` until it succeeds, fails for good, or ``backoff`` is exhausted.

    A failure for which ``transient(err)`` is false propagates at once.
    ``before_retry`` runs before each new try, inside it (e.g. a reconnect, whose
    own transient failure counts as a failed try); ``on_retry(err, delay_s,
    next_try)`` is told of each retry; ``give_up(err, tries)`` makes the error
    raised when trying stops (default: the last error itself).

    Example:
        >>> retry(lambda: 42, Backoff(first_s=0.1, tries=3), transient=lambda err: True)
        42
    """
    started = clock()
    failed = 0
    while True:
        try:
            if failed and before_retry is not None:
                before_retry()
            return action()
        except Exception as err:
            if not transient(err):
                raise
            failed += 1
            if backoff.exhausted(failed, clock() - started):
                if give_up is None:
                    raise
                raise give_up(err, failed) from err
            delay = backoff.delay(failed)
            if backoff.jitter:
                delay *= 0.5 + random.random()
            if on_retry is not None:
                on_retry(err, delay, failed + 1)
            sleep(delay)
