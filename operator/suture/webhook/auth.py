"""Who may post alerts: a bearer token and/or one basic-auth user, read from files.

The files are Kubernetes Secrets mounted as volumes in production; a Secret
rotated in place changes the file (a new inode behind the ``..data`` link), so
each request checks the file's identity and re-reads it when it changed.
Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("suture.webhook")


class CredentialError(Exception):
    """A credential file is missing, unreadable, empty or malformed; the message names the file."""


@dataclass(frozen=True)
class _Loaded:
    identity: tuple[int, int, int, int]  # inode, device, size, mtime in ns
    secret: bytes


class CredentialFile:
    """A secret kept in a file, re-read whenever the file changes.

    ``basic`` files hold one ``user:password`` line; token files hold the
    token. Surrounding whitespace (a trailing newline) is ignored.
    """

    def __init__(self, path: str | Path, *, basic: bool = False) -> None:
        self.path = Path(path)
        self.basic = basic
        self._loaded: _Loaded | None = None
        self.current()  # fail at start-up, not at the first request

    def _read(self) -> _Loaded:
        try:
            st = os.stat(self.path)
            text = self.path.read_bytes().strip()
        except OSError as exc:
            raise CredentialError(f"cannot read {self.path}: {exc.strerror}") from None
        if not text:
            raise CredentialError(f"{self.path} is empty")
        if self.basic and (b":" not in text or b"\n" in text or text.startswith(b":")):
            raise CredentialError(f"{self.path} must hold one line user:password")
        return _Loaded(identity=(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns), secret=text)

    def current(self) -> bytes:
        """The secret as the file holds it now.

        Raises CredentialError only when the file has never been readable;
        after that, a file that vanishes mid-rotation keeps the last good
        secret (logged), so a rotation cannot lock Alertmanager out.
        """
        try:
            st = os.stat(self.path)
            identity = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
        except OSError:
            identity = None
        if self._loaded is not None and identity == self._loaded.identity:
            return self._loaded.secret
        try:
            fresh = self._read()
        except CredentialError as exc:
            if self._loaded is None:
                raise
            logger.warning("keeping the previous webhook credential: %s", exc)
            return self._loaded.secret
        if self._loaded is not None:
            logger.info("webhook credential file %s changed; using the new one", self.path)
        self._loaded = fresh
        return fresh.secret


class Authenticator:
    """Decides whether an ``Authorization`` header carries a configured credential."""

    def __init__(self, *, token: CredentialFile | None = None, basic: CredentialFile | None = None) -> None:
        self.token = token
        self.basic = basic

    @property
    def open(self) -> bool:
        """No credential is configured: every request is admitted (``--insecure-webhook``)."""
        return self.token is None and self.basic is None

    def admits(self, authorization: str | None) -> bool:
        """True when the header matches the bearer token or the basic-auth line (or nothing is configured)."""
        if self.open:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if self.token is not None and scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.token.current())
        if self.basic is not None and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.encode(), validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded, self.basic.current())
        return False


def authenticator_from_files(*, token_file: str, basic_auth_file: str) -> Authenticator:
    """An Authenticator over the given files (empty path: not configured); CredentialError when unusable."""
    return Authenticator(
        token=CredentialFile(token_file) if token_file else None,
        basic=CredentialFile(basic_auth_file, basic=True) if basic_auth_file else None,
    )


def require_authenticator(*, token_file: str, basic_auth_file: str, insecure: bool) -> Authenticator:
    """The Authenticator ``suture run`` starts with.

    Raises CredentialError when a file is unusable, or when no credential is
    configured and ``insecure`` was not given: an open receiver lets anyone who
    can reach the port start remediations, so it has to be asked for by name.
    """
    authenticator = authenticator_from_files(token_file=token_file, basic_auth_file=basic_auth_file)
    if authenticator.open and not insecure:
        raise CredentialError(
            "no webhook credential: give --webhook-token-file and/or --webhook-basic-auth-file "
            "(SUTURE_WEBHOOK_TOKEN_FILE, SUTURE_WEBHOOK_BASIC_AUTH_FILE), or --insecure-webhook to accept anyone"
        )
    return authenticator
