"""OpenSSH ``known_hosts`` files, read the way lce-nas can honour them.

Plain lines (``host,ip keytype key``, hashed ``|1|salt|hash`` names included)
are trusted keys. ``@revoked`` lines are honoured strictly: a revoked key is
refused from any host, even when another line trusts it and even with
trust-on-first-use. ``@cert-authority`` lines cannot be honoured (paramiko
does not check host certificates), so a host they cover whose own key is not
listed is refused in one line that says so. Lines that cannot be parsed are
skipped, as OpenSSH does.

Files are only ever read, except for trust-on-first-use, which appends one
line to one file: lce-nas's own (``~/.config/lce-nas/known_hosts``) unless
the profile names another. The user's ``~/.ssh/known_hosts`` is never
rewritten.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from lce_nas.engine.devices import user_config_file
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from lce_nas.errors import UserError

USER_FILE = "~/.ssh/known_hosts"


def own_file() -> Path:
    """The known_hosts file lce-nas owns (``$XDG_CONFIG_HOME`` honoured).

    Example:
        >>> own_file().name
        'known_hosts'
    """
    return user_config_file().with_name("known_hosts")


def host_name(host: str, port: int) -> str:
    """The name a host's key is filed under: ``host``, or ``[host]:port`` off port 22.

    Example:
        >>> host_name("10.0.0.7", 2222)
        '[10.0.0.7]:2222'
    """
    return host if port == 22 else f"[{host}]:{port}"


def _usable_name(name: str) -> bool:
    """A plain name, or a hashed ``|1|salt|hash`` whose salt and hash are SHA-1 sized."""
    if not name.startswith("|"):
        return True
    parts = name.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return False
    try:
        return all(len(base64.b64decode(p, validate=True)) == 20 for p in parts[2:])
    except (binascii.Error, ValueError):
        return False


def _key_id(key_type: str, blob: str) -> tuple[str, bytes] | None:
    try:
        return key_type, base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None


def _matches(name: str, patterns: str) -> bool:
    """OpenSSH host patterns: ``*``, ``?`` and ``!`` negation, comma-separated.

    Brackets are literal (``[host]:port``), unlike in shell globs.

    Example:
        >>> _matches("[10.0.0.7]:2222", "[10.0.0.*]:*,!*.example")
        True
    """
    hit = False
    for pattern in patterns.split(","):
        body = pattern.removeprefix("!")
        regex = "".join({"*": ".*", "?": "."}.get(char, re.escape(char)) for char in body)
        if re.fullmatch(regex, name):
            if pattern.startswith("!"):
                return False
            hit = True
    return hit


@dataclass
class KnownHosts:
    """Trusted, revoked and certificate-authority lines of some known_hosts files."""

    trusted: list[tuple[HostKeyEntry, str]] = field(default_factory=list)
    revoked: dict[tuple[str, bytes], str] = field(default_factory=dict)
    authorities: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, paths: list[Path]) -> KnownHosts:
        """Read the files that exist, in order (a missing file is an empty one)."""
        known = cls()
        entries: list[tuple[HostKeyEntry, str]] = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            except OSError as err:
                raise UserError(f"cannot read known_hosts file {path}: {err.strerror}") from None
            for number, raw in enumerate(text.splitlines(), start=1):
                where = f"{path} line {number}"
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("@"):
                    known._marker(line, where)
                    continue
                try:
                    entry = HostKeyEntry.from_line(line, number)
                except (paramiko.SSHException, InvalidHostKey, ValueError, TypeError):
                    entry = None
                if entry is not None and entry.key is not None:
                    # A malformed hashed name would trip paramiko's lookup for every host.
                    entry.hostnames = [n for n in entry.hostnames if _usable_name(n)]
                    if entry.hostnames:
                        entries.append((entry, where))
        # Revoked wins over trusted, whichever line or file comes first.
        known.trusted = [(e, w) for e, w in entries if known.revoked_at(e.key) is None]
        return known

    def install(self, host_keys: paramiko.HostKeys) -> None:
        """Add every trusted key to a client's host keys (hashed names stay hashed)."""
        for entry, _where in self.trusted:
            for name in entry.hostnames:
                host_keys.add(name, entry.key.get_name(), entry.key)

    def _marker(self, line: str, where: str) -> None:
        fields = line.split()
        if len(fields) < 4:
            return
        marker, patterns, key_type, blob = fields[:4]
        if marker == "@revoked":
            key = _key_id(key_type, blob)
            if key is not None:
                self.revoked[key] = where
        elif marker == "@cert-authority":
            self.authorities.append((patterns, where))

    def revoked_at(self, key: paramiko.PKey) -> str | None:
        """Where ``key`` is listed as ``@revoked``, or None."""
        return self.revoked.get((key.get_name(), key.asbytes()))

    def authority_for(self, name: str) -> str | None:
        """Where a ``@cert-authority`` line covers host ``name``, or None."""
        for patterns, where in self.authorities:
            if _matches(name, patterns):
                return where
        return None

    def where(self, name: str) -> str:
        """The file and line that hold a key trusted for ``name`` (for messages)."""
        for entry, where in self.trusted:
            for listed in entry.hostnames:
                hashed = listed.startswith("|1|") and paramiko.HostKeys.hash_host(name, listed)
                if listed == name or hashed == listed:
                    return where
        return "known_hosts"


def _fingerprint(key: paramiko.PKey) -> str:
    return getattr(key, "fingerprint", None) or key.get_base64()


class CheckedPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key no trusted line lists: refuse, or record it once.

    ``record_in`` is the file trust-on-first-use appends to (None: refuse).
    A revoked key is refused either way.
    """

    def __init__(self, known: KnownHosts, record_in: Path | None) -> None:
        self.known = known
        self.record_in = record_in

    def missing_host_key(self, client, hostname: str, key: paramiko.PKey) -> None:
        """Refuse the key, or (trust-on-first-use) append one line for it."""
        shown = f"{key.get_name()} {_fingerprint(key)}"
        revoked = self.known.revoked_at(key)
        if revoked is not None:
            raise UserError(
                f"host key of {hostname} ({shown}) is marked @revoked ({revoked}); "
                "refusing to connect: check the device and give it a new key"
            )
        if self.record_in is None:
            authority = self.known.authority_for(hostname)
            if authority is not None:
                raise UserError(
                    f"host key of {hostname} is vouched for by a @cert-authority line "
                    f"({authority}), which lce-nas cannot check; after checking the key, "
                    "add the host's own key with ssh-keyscan to the profile's known_hosts file"
                )
            raise UserError(
                f"host key of {hostname} is unknown ({shown}); after checking it, add it "
                "with ssh-keyscan to the profile's known_hosts file (or ~/.ssh/known_hosts), "
                "or set trust_on_first_use = true in the profile"
            )
        append_key(self.record_in, hostname, key)
        client.get_host_keys().add(hostname, key.get_name(), key)


def append_key(path: Path, hostname: str, key: paramiko.PKey) -> None:
    """Add one ``hostname keytype key`` line at the end of ``path``; nothing else changes.

    Example:
        >>> append_key(Path("/tmp/kh"), "[10.0.0.7]:2222", key)  # doctest: +SKIP
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        with os.fdopen(fd, "ab") as handle:
            fd = -1
            # A file whose last line lacks its newline must not swallow ours.
            if handle.tell() > 0 and not _ends_with_newline(path):
                line = "\n" + line
            handle.write(line.encode())
    except OSError as err:
        raise UserError(f"cannot record the host key in {path}: {err.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
