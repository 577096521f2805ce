"""JSON answers that cost nothing when nothing changed: ETags and a body per marker.

Pages poll every few seconds. Each API answer is keyed by a *marker* that
changes whenever its data does (see ``StudyReader.marker``): a poll that
sends the last ETag back gets ``304 Not Modified`` with no body and no work,
and a changed answer is built once and served from memory to every page
that asks for it until the marker moves again.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

_HEADERS = {"Cache-Control": "no-cache"}


class Answers:
    """The last encoded answer per route and arguments, with its ETag.

    Example:
        >>> answers = Answers()  # in create_app; reply() per request  # doctest: +SKIP
    """

    def __init__(self, keep: int = 256) -> None:
        self._held: dict[Hashable, tuple[str, str, bytes]] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def reply(
        self, request: Request, route: Hashable, marker: str, build: Callable[[], Any]
    ) -> Response:
        """``build()``'s JSON with an ETag, or 304 when the client holds the current one."""
        etag = '"' + hashlib.sha256(repr((route, marker)).encode()).hexdigest()[:24] + '"'
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers={"ETag": etag, **_HEADERS})
        with self._lock:
            held = self._held.get(route)
        if held is not None and held[0] == marker:
            body = held[2]
        else:
            with _collector_paused():
                # orjson: a study's trial rows run to megabytes, which the standard
                # library encodes about 4x slower. A non-finite float becomes null.
                body = orjson.dumps(build(), default=_default, option=orjson.OPT_NON_STR_KEYS)
            with self._lock:
                if len(self._held) >= self._keep:
                    self._held.pop(next(iter(self._held)))
                self._held[route] = (marker, etag, body)
        return Response(body, media_type="application/json", headers={"ETag": etag, **_HEADERS})


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cycle collector while an answer is built.

    A 10,000-trial table allocates some 60,000 containers, none in a cycle,
    and each full pass of the collector walks every record the reader holds:
    at that size the passes cost as much as building the rows.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip().removeprefix("W/") for part in header.split(",")}


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
