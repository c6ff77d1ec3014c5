"""Credentials come from files, rotate in place, and are compared in constant time."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from suture.webhook import CredentialError, authenticator_from_files, require_authenticator


def _rotate(path: Path, text: str) -> None:
    """Replace the file the way kubelet updates a mounted Secret: a new file renamed over the old."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


def test_a_rotated_token_replaces_the_old_one_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    auth = authenticator_from_files(token_file=str(path), basic_auth_file="")
    assert auth.admits("Bearer first")
    _rotate(path, "second\n")
    assert not auth.admits("Bearer first")
    assert auth.admits("Bearer second")


def test_a_token_file_rewritten_in_place_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first")
    auth = authenticator_from_files(token_file=str(path), basic_auth_file="")
    path.write_text("a-longer-second-token")  # same inode, new size and mtime
    assert auth.admits("Bearer a-longer-second-token")
    assert not auth.admits("Bearer first")


def test_a_token_file_that_vanishes_mid_rotation_keeps_the_last_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first")
    auth = authenticator_from_files(token_file=str(path), basic_auth_file="")
    path.unlink()
    assert auth.admits("Bearer first")
    assert not auth.admits("Bearer other")


def test_basic_auth_admits_exactly_its_user_and_password(tmp_path: Path) -> None:
    path = tmp_path / "basic"
    path.write_text("alertmanager:pa:ss\n")
    auth = authenticator_from_files(token_file="", basic_auth_file=str(path))

    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert auth.admits(basic("alertmanager:pa:ss"))
    assert not auth.admits(basic("alertmanager:pa"))
    assert not auth.admits(basic("other:pa:ss"))
    assert not auth.admits("Basic not-base64!")
    assert not auth.admits("Bearer alertmanager:pa:ss")


def test_token_and_basic_auth_can_both_be_configured(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok")
    (tmp_path / "basic").write_text("u:p")
    auth = authenticator_from_files(token_file=str(tmp_path / "token"), basic_auth_file=str(tmp_path / "basic"))
    assert auth.admits("Bearer tok")
    assert auth.admits("Basic " + base64.b64encode(b"u:p").decode())
    assert not auth.admits(None)


def test_no_credential_refuses_to_start_unless_insecure_is_asked_for(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="--insecure-webhook"):
        require_authenticator(token_file="", basic_auth_file="", insecure=False)
    assert require_authenticator(token_file="", basic_auth_file="", insecure=True).admits(None)


@pytest.mark.parametrize(
    ("content", "basic", "message"),
    [("", False, "is empty"), ("\n", False, "is empty"), ("no-colon", True, "user:password"), (None, False, "cannot")],
)
def test_unusable_credential_files_refuse_to_start(
    tmp_path: Path, content: str | None, basic: bool, message: str
) -> None:
    path = tmp_path / "cred"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CredentialError, match=message):
        require_authenticator(
            token_file="" if basic else str(path), basic_auth_file=str(path) if basic else "", insecure=True
        )


def test_suture_run_refuses_to_start_without_a_credential(capsys: pytest.CaptureFixture[str]) -> None:
    from suture.cli import main

    env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SUTURE_")}
    try:
        assert main(["run"]) == 2
    finally:
        os.environ.update(env)
    assert "no webhook credential" in capsys.readouterr().err
