"""A real Alertmanager on loopback, and a TCP link to the API server that a test can cut and restore."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import yaml

from tests.conftest import REPO, free_port, wait_for

DEBIAN_ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
VERSIONS = ("0.25-debian", "0.34")  # what the e2e tests run against: Debian's package, the newest that builds


def alertmanager_binary(version: str) -> str:
    """The Alertmanager of ``version`` (one of VERSIONS); fails, never skips, when it is not installed.

    Debian's comes from hack/ensure-debian-packages.sh, the newest from
    hack/build-tools.sh (``make tools``); ``make test`` runs both first.
    """
    if version == "0.25-debian":
        path = DEBIAN_ALERTMANAGER
        hint = "hack/ensure-debian-packages.sh (apt: prometheus-alertmanager)"
    else:
        out = subprocess.run(
            [
                "bash",
                "-c",
                f". {REPO}/hack/versions.sh && echo $SUTURE_BIN/alertmanager-$ALERTMANAGER_VERSION/alertmanager",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        path, hint = out.stdout.strip(), "make tools (hack/build-tools.sh alertmanager)"
    assert os.access(path, os.X_OK), f"Alertmanager {version} is not installed at {path}: run {hint}"
    return path


def rfc3339(when: datetime) -> str:
    """A time as Alertmanager's API wants it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Alertmanager:
    """Alertmanager with one webhook receiver (bearer token from a file), gossip off, state in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        webhook_url: str,
        token_file: Path,
        binary: str = DEBIAN_ALERTMANAGER,
        group_by: tuple[str, ...] = ("alertname",),
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "alertmanager.log"
        self.proc: asyncio.subprocess.Process | None = None
        config = {
            "route": {
                "receiver": "suture",
                "group_by": list(group_by),
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
            self.binary,
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


class WebhookTap:
    """An HTTP relay in front of the receiver that keeps every notification body and the receiver's answer.

    Shows what a given Alertmanager really sends (0.34's ``notification_reason``
    and ``routeLabels``) and that the receiver accepted it.
    """

    def __init__(self, target_url: str) -> None:
        self.target_url = target_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook/alertmanager"
        self.seen: list[tuple[dict[str, Any], int]] = []  # (body, the receiver's status)
        self._runner: aiohttp.web.AppRunner | None = None

    async def start(self) -> None:
        from aiohttp import web

        async def relay(request: web.Request) -> web.Response:
            raw = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
            async with aiohttp.ClientSession() as s, s.post(self.target_url, data=raw, headers=headers) as r:
                answer = await r.read()
                self.seen.append((json.loads(raw), r.status))
                return web.Response(status=r.status, body=answer, content_type=r.content_type)

        app = web.Application()
        app.router.add_post("/webhook/alertmanager", relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


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
