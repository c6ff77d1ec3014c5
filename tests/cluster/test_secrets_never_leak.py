"""Secrets never leave their place: the webhook token and a notification URL from a Secret appear in none of
the operator's log, the Events, the Remediation, the data directory (history, checkpoints, vectors) or /metrics."""

from __future__ import annotations

import json
import secrets
import signal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for


async def test_the_webhook_token_and_a_secret_notify_url_appear_nowhere(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    received: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{rest:.*}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    canary = f"T0CANARY{secrets.token_hex(6)}"
    notify_secrets = tmp_path / "notify-secrets"  # what the chart mounts from the notification Secret
    notify_secrets.mkdir()
    (notify_secrets / "sre").write_text(f"http://{host}:{port}/services/{canary}/xoxb-token\n")
    data = tmp_path / "data"
    data.mkdir()
    proc = OperatorProcess(
        kubeconfig, data, namespace, SUTURE_HOME_NAMESPACE=namespace, SUTURE_NOTIFY_SECRETS_DIR=str(notify_secrets)
    )
    try:
        await kube.create("Deployment", deployment("web", 0), namespace)
        template = {
            "apiVersion": API_VERSION,
            "kind": "WorkflowTemplate",
            "metadata": {"name": "tell"},
            "spec": {
                "match": {"alertNames": ["Leaky"]},
                "target": {"kind": "Deployment", "name": "web"},
                "steps": [
                    {"name": "tell", "action": {"name": "notify", "params": {"urlFrom": "sre", "text": "fixing"}}},
                    {
                        "name": "scale",
                        "action": {
                            "name": "scale_deployment",
                            "params": {"namespace": namespace, "name": "web", "replicas": 1},
                        },
                    },
                ],
            },
        }
        await kube.create("WorkflowTemplate", template, namespace, api_version=API_VERSION)
        await proc.start()
        body = {
            "version": "4",
            "status": "firing",
            "receiver": "suture",
            "groupKey": "{}",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "Leaky", "namespace": namespace},
                    "annotations": {},
                    "startsAt": "2026-11-29T06:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "1eac0001",
                }
            ],
        }

        async def posted() -> dict[str, Any] | None:
            try:
                async with (
                    aiohttp.ClientSession() as s,
                    s.post(
                        f"http://127.0.0.1:{proc.port}/webhook/alertmanager",
                        json=body,
                        headers={"Authorization": f"Bearer {proc.token}"},
                    ) as r,
                ):
                    answer: dict[str, Any] = await r.json()
                    assert r.status < 400 or r.status >= 500, answer  # a 4xx would never be retried
                    return answer if r.status == 200 and (answer["created"] or answer["existing"]) else None
            except aiohttp.ClientError:
                return None

        await wait_for(posted, timeout=300, interval=1, what=f"the alert to be stored (log {proc.log})")

        async def finished() -> dict[str, Any] | None:
            (rem,) = await kube.list("Remediation", namespace, api_version=API_VERSION)
            return rem if (rem.get("status") or {}).get("phase") in ("Verifying", "Succeeded") else None

        rem = await wait_for(finished, timeout=300, what=f"the run to finish (log {proc.log})")
        assert received == [f"/services/{canary}/xoxb-token"], "the notification was sent, to the secret URL"
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{proc.port}/metrics") as r:
            exposition = await r.text()
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)
        await runner.cleanup()

    events = await kube.list("Event", namespace)
    places = {
        "operator log": proc.output(),
        "Events": json.dumps(events),
        "Remediation": json.dumps(rem),
        "/metrics": exposition,
    }
    for path in data.rglob("*"):
        if path.is_file() and path.name != proc.token_file.name:
            places[f"data dir {path.name}"] = path.read_bytes().decode("latin-1")
    assert events, "something was recorded to look through"
    for place, text in places.items():
        assert proc.token not in text, f"the webhook token leaked into {place}"
        assert canary not in text, f"the notify URL's secret path leaked into {place}"
