"""`suture run` as a real subprocess, for tests that need the operator process itself."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path

from tests.conftest import free_port


class OperatorProcess:
    """`suture run` in a subprocess, with its own data directory.

    ``namespace``: the one namespace it watches, several, or None for every namespace.
    """

    def __init__(self, kubeconfig: str, data_dir: Path, namespace: str | list[str] | None, **env: str) -> None:
        self.kubeconfig = kubeconfig
        self.data_dir = data_dir
        self.namespace = namespace
        self.extra_env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.log = data_dir / "operator.log"
        self.port = free_port()  # the one HTTP server: webhook, /healthz, /readyz, /metrics
        self.metrics_port = self.port
        self.token = secrets.token_urlsafe(24)
        self.token_file = data_dir / "webhook-token"
        self.token_file.write_text(self.token + "\n")

    async def start(self) -> None:
        env = {
            **os.environ,
            "SUTURE_DATA_DIR": str(self.data_dir),
            "KUBECONFIG": self.kubeconfig,
            "SUTURE_PORT": str(self.port),
            "SUTURE_LISTEN_ADDRESS": "127.0.0.1",
            "SUTURE_WEBHOOK_TOKEN_FILE": str(self.token_file),
            **self.extra_env,
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "suture.cli",
            "run",
            *self._namespace_args(),
            env=env,
            stdout=self.log.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )

    def _namespace_args(self) -> list[str]:
        if self.namespace is None:
            return []
        names = [self.namespace] if isinstance(self.namespace, str) else self.namespace
        return [arg for name in names for arg in ("--namespace", name)]

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
