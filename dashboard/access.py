"""The dashboard's access token: a gate in front of every route.

A dashboard served beyond loopback needs a token. A client presents it as
``Authorization: Bearer TOKEN`` (scripts), or once as ``?token=TOKEN`` (a
browser): that request is answered with a redirect to the same page without
the token in its address and a cookie that stands for it from then on. Every
comparison is in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lce_nas.errors import UserError

TOKEN_ENV_VAR = "LCE_NAS_DASHBOARD_TOKEN"
COOKIE_NAME = "lce_nas_dashboard"
QUERY_PARAMETER = "token"
# Shorter tokens can be guessed by anyone who reaches the port and tries.
MIN_TOKEN_LENGTH = 16

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def check_token(token: str) -> str:
    """The token, stripped, or a :class:`UserError` when it is too short to be safe.

    Example:
        >>> check_token("  0123456789abcdef  ")
        '0123456789abcdef'
    """
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise UserError(
            f"the dashboard token must have at least {MIN_TOKEN_LENGTH} characters "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie never carries it."""
    return hmac.new(token.encode(), b"lce-nas dashboard cookie", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenGate:
    """ASGI middleware that lets a request through only with the access token.

    Example:
        >>> app = create_app("sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> gated = TokenGate(app, "a-long-random-token")  # doctest: +SKIP
    """

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = check_token(token)
        self.cookie = cookie_value(self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self._bearer_ok(headers) or self._cookie_ok(headers):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == QUERY_PARAMETER]
        if scope["type"] == "http" and given and _same(given[-1], self.token):
            rest = urlencode([(k, v) for k, v in query if k != QUERY_PARAMETER])
            location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
            await _respond(
                send,
                303,
                b"signed in\n",
                [
                    (b"location", location.encode("latin-1")),
                    (
                        b"set-cookie",
                        f"{COOKIE_NAME}={self.cookie}; Path=/; HttpOnly; SameSite=Strict".encode(),
                    ),
                ],
            )
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _respond(
            send,
            401,
            b"this dashboard needs its access token: open it once with ?token=TOKEN, "
            b"or send 'Authorization: Bearer TOKEN'\n",
            [(b"www-authenticate", b'Bearer realm="lce-nas dashboard"')],
        )

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and _same(value.strip(), self.token)

    def _cookie_ok(self, headers: dict[str, str]) -> bool:
        raw = headers.get("cookie")
        if not raw:
            return False
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return False
        morsel = jar.get(COOKIE_NAME)
        return morsel is not None and _same(morsel.value, self.cookie)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
