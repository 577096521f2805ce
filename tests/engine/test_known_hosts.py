"""known_hosts lines lce-nas cannot use, and trust-on-first-use, against a real sshd."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest
from lce_nas.engine.devices import get_device
from lce_nas.engine.ssh import SshTransport

from lce_nas.errors import UserError


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A throw-away HOME and config folder, so no real known_hosts is read or written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    return tmp_path / "home"


def _connect(sshd, **settings) -> str:
    device = get_device(
        "rpi4", host="127.0.0.1", port=sshd.port, user=sshd.user,
        identity_file=str(sshd.client_key), connect_timeout_s=5.0, retries=1, **settings,
    )  # fmt: skip
    with SshTransport(device, warn=lambda _message: None) as transport:
        # The last line: a login shell on the far side may print notices of its own first.
        return transport.run("echo connected").strip().splitlines()[-1]


def _key(sshd) -> tuple[str, str]:
    _name, key_type, blob = sshd.host_key_line.split()[:3]
    return key_type, blob


def _other_key(sshd) -> str:
    """A valid public key that is not the server's (the test client's own)."""
    return " ".join(Path(f"{sshd.client_key}.pub").read_text().split()[:2])


def test_a_cert_authority_line_without_the_hosts_own_key_is_refused_in_one_line(sshd, home):
    known = home / "hosts"
    known.write_text(f"@cert-authority [127.0.0.1]:* {_other_key(sshd)}\n")
    with pytest.raises(UserError, match="@cert-authority") as caught:
        _connect(sshd, known_hosts=str(known))
    message = str(caught.value)
    assert "\n" not in message and f"{known} line 1" in message and "ssh-keyscan" in message


def test_a_cert_authority_line_beside_the_hosts_key_is_no_obstacle(sshd, home):
    known = home / "hosts"
    known.write_text(f"@cert-authority * {_other_key(sshd)}\n{sshd.host_key_line}\n")
    assert _connect(sshd, known_hosts=str(known)) == "connected"


@pytest.mark.parametrize("trust_on_first_use", [False, True])
def test_a_revoked_key_is_refused_even_where_another_line_trusts_it(sshd, home, trust_on_first_use):
    key_type, blob = _key(sshd)
    known = home / "hosts"
    text = (
        f"{sshd.host_key_line}\n# revoked after the lab was cleaned\n@revoked * {key_type} {blob}\n"
    )
    known.write_text(text)
    with pytest.raises(UserError, match="@revoked") as caught:
        _connect(sshd, known_hosts=str(known), trust_on_first_use=trust_on_first_use)
    assert f"{known} line 3" in str(caught.value) and "refusing" in str(caught.value)
    assert known.read_text() == text


def test_hashed_host_names_are_honoured_and_unreadable_lines_skipped(sshd, home):
    key_type, blob = _key(sshd)
    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{sshd.port}")
    known = home / "hosts"
    known.write_text(
        "garbage that is no key line\n@unknown-marker a b c\nhost ssh-ed25519 !!notbase64!!\n"
        f"{hashed} {key_type} {blob}\n"
    )
    assert _connect(sshd, known_hosts=str(known)) == "connected"


def test_trust_on_first_use_appends_to_lce_nas_own_file_and_never_the_users(sshd, home):
    users = home / ".ssh" / "known_hosts"
    mine = home.parent / "config" / "lce-nas" / "known_hosts"
    original = f"# my hosts\nbox,10.9.9.9 {_other_key(sshd)}\n|1|abc=|def= {_other_key(sshd)}\n"
    users.write_text(original)
    assert _connect(sshd, trust_on_first_use=True) == "connected"
    assert users.read_text() == original
    key_type, blob = _key(sshd)
    assert mine.read_text() == f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n"
    # Known now: a second connection adds nothing, and strict checking accepts it.
    assert _connect(sshd, trust_on_first_use=True) == "connected"
    assert _connect(sshd) == "connected"
    assert mine.read_text().count("\n") == 1 and users.read_text() == original


def test_trust_on_first_use_into_the_profiles_file_only_appends(sshd, home):
    known = home / "profile_hosts"
    original = f"# lab\nbox,10.9.9.9 {_other_key(sshd)}"  # no final newline
    known.write_text(original)
    assert _connect(sshd, known_hosts=str(known), trust_on_first_use=True) == "connected"
    key_type, blob = _key(sshd)
    assert known.read_text() == f"{original}\n[127.0.0.1]:{sshd.port} {key_type} {blob}\n"
