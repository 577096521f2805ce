"""Serving the dashboard: the bind rule and the uvicorn server.

The bind rule: the dashboard listens on 127.0.0.1 unless told otherwise. A
host that is not a loopback address (127.0.0.0/8, ::1, or a name that only
resolves to those) is served only when the caller says so explicitly
(``allow_remote=True``; on the command line, typing ``--host``), and then
only with an access token (see :mod:`lce_nas.dashboard.access`). Loopback
needs no token.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from lce_nas.dashboard.access import TOKEN_ENV_VAR, TokenGate, check_token

from lce_nas.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _addresses(host: str) -> list[tuple[int, str]]:
    """(family, address) pairs that ``host`` names, IPv4 first."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UserError(
            f"cannot resolve --host {host!r} (give an address, e.g. 127.0.0.1)"
        ) from None
    found = sorted({(info[0], str(info[4][0]).split("%")[0]) for info in infos})
    return sorted(found, key=lambda pair: pair[0] != socket.AF_INET)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    addresses = _addresses(host)
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for _, a in addresses)


def check_host(host: str, allow_remote: bool, token: str | None = None) -> str | None:
    """Apply the bind rule: None for loopback, a warning for an allowed other host.

    A non-loopback host that was not asked for explicitly, or that has no
    access token, is a :class:`UserError`.

    Example:
        >>> check_host("127.0.0.1", allow_remote=False) is None
        True
        >>> check_host("0.0.0.0", allow_remote=True, token="0123456789abcdef")[:8]
        'warning:'
    """
    if is_loopback(host):
        return None
    if not allow_remote:
        raise UserError(
            f"refusing to serve the dashboard on {host}, which is reachable from other machines; "
            "pass --host explicitly (with an access token) to do it anyway"
        )
    if not token:
        raise UserError(
            f"refusing to serve the dashboard on {host} without an access token: give "
            f"--token TOKEN or set {TOKEN_ENV_VAR} (make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    check_token(token)
    return (
        f"warning: serving on {host} over plain HTTP: only clients with the access token get "
        "in, but the token and the data cross the network unencrypted (use a network you "
        "trust, or a TLS proxy)"
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a clear :class:`UserError`."""
    family, address = _addresses(host)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is in use; choose another --port (0 picks a free one)"
            ) from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise UserError(
                f"cannot listen on {host}: it is not an address of this machine"
            ) from None
        if err.errno == errno.EACCES:
            raise UserError(f"not allowed to listen on port {port}; use one above 1023") from None
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The http URL a listening socket serves."""
    address, port = sock.getsockname()[:2]
    if address in ("0.0.0.0", "::"):
        address = socket.gethostname()
    shown = f"[{address}]" if ":" in address else address
    return f"http://{shown}:{port}/"


def serve(
    app: Any,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    allow_remote: bool = False,
    token: str | None = None,
    announce: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> None:
    """Serve ``app`` until interrupted, after applying the bind rule.

    With a ``token`` every request must carry it (see :class:`TokenGate`).

    Example:
        >>> serve(create_app("sqlite:///lce-nas.db"))  # doctest: +SKIP
        Dashboard at http://127.0.0.1:8080/ ...
    """
    import uvicorn

    warning = check_host(host, allow_remote, token)
    if token:
        app = TokenGate(app, token)
    sock = bind_socket(host, port)
    if warning:
        warn(warning)
    announce(f"Dashboard at {url_of(sock)} (Ctrl-C stops it)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
