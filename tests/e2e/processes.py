"""A real Alertmanager on loopback, and a TCP link to the API server that a test can cut and restore."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.conftest import free_port, wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def rfc3339(when: datetime) -> str:
    """A time as Alertmanager's API wants it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Alertmanager:
    """Alertmanager with one webhook receiver (bearer token from a file), gossip off, state in ``workdir``."""

    def __init__(self, workdir: Path, *, webhook_url: str, token_file: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "alertmanager.log"
        self.proc: asyncio.subprocess.Process | None = None
        config = {
            "route": {
                "receiver": "suture",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "suture",
                    "webhook_configs": [
                        {
                            "url": webhook_url,
                            "send_resolved": True,
                            "http_config": {"authorization": {"credentials_file": str(token_file)}},
                        }
                    ],
                }
            ],
        }
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(yaml.safe_dump(config))

    async def start(self) -> None:
        (self.workdir / "am-data").mkdir(exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            ALERTMANAGER,
            f"--config.file={self.config}",
            f"--storage.path={self.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            f"--web.external-url={self.url}",
            stdout=self.log.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )

        async def ready() -> bool:
            try:
                async with aiohttp.ClientSession() as s, s.get(f"{self.url}/-/ready") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(ready, timeout=30, what="Alertmanager to be ready")

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST to the API v2, as Prometheus does."""
        async with aiohttp.ClientSession() as s, s.post(f"{self.url}/api/v2/alerts", json=alerts) as r:
            assert r.status == 200, await r.text()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class CuttableLink:
    """A TCP relay to ``host:port``; :meth:`cut` drops every connection and refuses new ones until :meth:`restore`.

    Given to `suture run` as its API server address, it makes the API server
    unreachable for the operator alone, while the test keeps its own direct client.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.target_port = port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


def kubeconfig_through(kubeconfig: str, link: CuttableLink, path: Path) -> str:
    """A copy of ``kubeconfig`` whose server is ``link`` (same IP, so the API server's certificate still fits)."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{link.port}"
    path.write_text(yaml.safe_dump(config))
    os.chmod(path, 0o600)
    return str(path)


def api_address(kubeconfig: str) -> tuple[str, int]:
    """The API server's host and port from a kubeconfig."""
    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    host, _, port = server.removeprefix("https://").partition(":")
    return host, int(port)
