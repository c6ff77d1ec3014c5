"""The API server and etcd stopped and restarted under runs in flight and a webhook burst.

On a control plane of its own (``kwokctl stop cluster`` takes down etcd, the
API server and the rest, so the shared test cluster must not be the one):

1. `suture run` and a real Alertmanager (Debian's 0.25, one notification per
   Deployment) in front of it; the template scales its Deployment to
   ``replicas+1``, waits, then to ``replicas+2``, relative to what the run first
   saw, so a step applied twice shows in the replica count and in
   ``metadata.generation``;
2. two alerts through Alertmanager start two runs; once both are inside the
   wait, the control plane is stopped;
3. while it is down, more alerts go to Alertmanager and a burst of payloads is
   posted straight to the receiver: every answer is a 503 (the operator does
   not crash, nothing answers 2xx for an alert it could not store);
4. the control plane is started again; the burst's payloads are re-posted until
   2xx, as Alertmanager would, and Alertmanager retries its own by itself;
5. every alert ends in exactly one Remediation whose steps all Succeeded, and every
   Deployment was changed exactly twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient, connect
from tests.cluster.conftest import install_crds
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import REPO, deployment, wait_for
from tests.e2e.processes import Alertmanager, WebhookTap, alertmanager_binary, rfc3339

ALERT = "ControlPlaneRestart"
RUNS = ("run-0", "run-1")  # in flight (inside their wait) when the control plane stops
VIA_AM = ("am-0", "am-1")  # posted to Alertmanager while the control plane is down
DIRECT = ("direct-0", "direct-1", "direct-2")  # posted straight to the receiver while it is down
BURST_COPIES = 3
# Every step Succeeded; the Remediation then waits in Verifying for the alert to resolve (the default verify window).
FINISHED = ("Succeeded", "Verifying")  # each direct payload is posted this many times at once


def _kwokctl(*args: str) -> None:
    kwokctl = '"$SUTURE_BIN/kwokctl-$KWOK_VERSION/kwokctl"'
    script = f'. {REPO}/hack/versions.sh && KWOK_WORKDIR="$SUTURE_CACHE/kwok" exec {kwokctl} "$@"'
    subprocess.run(["bash", "-c", script, "kwokctl", *args], check=True, capture_output=True)


@pytest.fixture
def own_cluster() -> Iterator[tuple[str, str]]:
    """A control plane of this test's own (name, kubeconfig), removed afterwards."""
    name = f"apirestart-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "SUTURE_CLUSTER": name, "SUTURE_NODES": "1"}
    up = subprocess.run([str(REPO / "hack" / "cluster-up.sh")], env=env, capture_output=True, text=True, check=False)
    try:
        assert up.returncode == 0, up.stderr[-4000:]
        yield name, up.stdout.strip().splitlines()[-1].removeprefix("KUBECONFIG=")
    finally:
        subprocess.run([str(REPO / "hack" / "cluster-down.sh")], env=env, capture_output=True, check=False)


@pytest.fixture
async def own_kube(own_cluster: tuple[str, str]) -> AsyncIterator[KubeClient]:
    client = await connect(own_cluster[1])
    try:
        await install_crds(client)
        yield client
    finally:
        await client.close()


def _template() -> dict[str, Any]:
    def scale(name: str, plus: int) -> dict[str, Any]:
        params = {
            "namespace": "${{ target.metadata.namespace }}",
            "name": "${{ target.metadata.name }}",
            "replicas": f"${{{{ target.spec.replicas + {plus} }}}}",
        }
        return {"name": name, "action": {"name": "scale_deployment", "params": params}}

    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "restart-fix"},
        "spec": {
            "match": {"alertNames": [ALERT]},
            "target": {"kind": "Deployment", "name": "${{ alert.labels.deployment }}"},
            "safety": {"cooldown": "0s", "maxRunsPerHour": 0},
            "steps": [scale("up-one", 1), {"name": "pause", "wait": {"duration": "3s"}}, scale("up-two", 2)],
        },
    }


def _labels(namespace: str, name: str) -> dict[str, str]:
    return {"alertname": ALERT, "namespace": namespace, "deployment": name}


def _am_alert(namespace: str, name: str) -> dict[str, Any]:
    return {"labels": _labels(namespace, name), "startsAt": rfc3339(datetime.now(UTC))}


def _direct_payload(namespace: str, name: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": _labels(namespace, name),
        "annotations": {},
        "startsAt": "2026-11-29T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
    }
    body = {"version": "4", "status": "firing", "receiver": "suture", "groupKey": name, "alerts": [alert]}
    return json.dumps(body).encode()


async def _post(session: aiohttp.ClientSession, proc: OperatorProcess, body: bytes) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {proc.token}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{proc.port}/webhook/alertmanager"
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, response.headers.get("Retry-After")


async def _until_2xx(session: aiohttp.ClientSession, proc: OperatorProcess, body: bytes) -> None:
    """Re-post like Alertmanager: on a 5xx or a connection error, again after a pause, until a 2xx."""

    async def delivered() -> bool:
        try:
            status, _ = await _post(session, proc, body)
        except aiohttp.ClientError:
            return False
        assert status < 400 or status >= 500, f"a retry must never be refused with {status}"
        return status < 300

    await wait_for(delivered, timeout=90, interval=1.0, what="a re-posted payload to be answered 2xx")


async def _ready(proc: OperatorProcess) -> bool:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{proc.port}/readyz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def _steps(kube: KubeClient, namespace: str) -> dict[str, dict[str, str]]:
    """Per Deployment, the phase of each step of its run(s)."""
    out: dict[str, dict[str, str]] = {}
    for rem in await kube.list("Remediation", namespace, api_version=API_VERSION):
        target = rem["spec"]["alert"]["labels"]["deployment"]
        out[target] = {s["name"]: s["phase"] for s in (rem.get("status") or {}).get("steps") or []}
    return out


async def test_the_receiver_answers_503_while_the_api_server_is_down_and_every_run_finishes_once(
    own_cluster: tuple[str, str], own_kube: KubeClient, tmp_path: Path
) -> None:
    cluster, kubeconfig = own_cluster
    kube = own_kube
    namespace = "restart"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    names = (*RUNS, *VIA_AM, *DIRECT)
    for name in names:
        await kube.create("Deployment", deployment(name, 1), namespace)
    await kube.create("WorkflowTemplate", _template(), namespace, api_version=API_VERSION)

    (tmp_path / "op").mkdir()
    proc = OperatorProcess(kubeconfig, tmp_path / "op", namespace, SUTURE_HOME_NAMESPACE=namespace)
    tap = WebhookTap(f"http://127.0.0.1:{proc.port}/webhook/alertmanager")
    am = Alertmanager(
        tmp_path,
        webhook_url=tap.url,
        token_file=proc.token_file,
        binary=alertmanager_binary("0.25-debian"),
        group_by=("alertname", "deployment"),  # one notification per Deployment
    )
    await proc.start()
    await tap.start()
    await am.start()
    try:
        await wait_for(lambda: _ready(proc), timeout=60, what=f"/readyz (log {proc.log})")

        async def valid() -> bool:
            got = await kube.get("WorkflowTemplate", "restart-fix", namespace, api_version=API_VERSION)
            conditions = (got.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Valid" and c["status"] == "True" for c in conditions)

        await wait_for(valid, timeout=60, what="the template to be Valid")

        # 1. Runs in flight: first step applied, inside the wait.
        await am.post_alerts([_am_alert(namespace, name) for name in RUNS])

        async def waiting() -> bool:
            steps = await _steps(kube, namespace)
            return all(steps.get(n, {}).get("pause") == "Running" for n in RUNS)

        await wait_for(waiting, timeout=60, what="both runs inside their wait")

        # 2. The control plane goes down under them.
        _kwokctl("stop", "cluster", "--name", cluster)
        stopped = asyncio.get_running_loop().time()
        answered_before = len(tap.seen)

        # 3. A burst while it is down: Alertmanager's deliveries and direct payloads all get a 503.
        await am.post_alerts([_am_alert(namespace, name) for name in VIA_AM])
        bodies = [_direct_payload(namespace, name) for name in DIRECT]
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(_post(session, proc, b) for b in bodies for _ in range(BURST_COPIES)))
        assert {status for status, _ in answers} == {503}, answers
        assert all(retry_after for _, retry_after in answers), "a 503 says when to retry"

        async def am_refused() -> set[str]:
            refused = {
                a["labels"]["deployment"]
                for body, status in tap.seen[answered_before:]
                if status == 503
                for a in body["alerts"]
            }
            return refused if set(VIA_AM) <= refused else set()

        await wait_for(am_refused, timeout=30, what="Alertmanager's deliveries to be answered 503")
        assert all(status == 503 for _, status in tap.seen[answered_before:]), tap.seen[answered_before:]
        assert proc.proc is not None
        assert proc.proc.returncode is None, "the operator survived the outage"
        # Long enough down that the runs' wait ends during the outage: their second write meets a dead API server.
        await asyncio.sleep(max(0.0, stopped + 5 - asyncio.get_running_loop().time()))

        # 4. Back up: re-post what was refused; Alertmanager retries its own.
        _kwokctl("start", "cluster", "--name", cluster, "--wait", "60s")
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(_until_2xx(session, proc, b) for b in bodies))

        # The runs met the dead API server mid-run (their wait ended during the outage) and retried.
        assert "reporting step pause failed" in proc.output()

        # 5. Exactly one Remediation per alert, each Succeeded, each Deployment changed exactly twice.
        async def all_finished() -> list[dict[str, Any]] | None:
            rems = await kube.list("Remediation", namespace, api_version=API_VERSION)
            phases = [(r.get("status") or {}).get("phase") for r in rems]
            done = len(rems) >= len(names) and all(p in (*FINISHED, "Failed") for p in phases)
            return rems if done else None

        rems = await wait_for(all_finished, timeout=120, what=f"every run to finish (log {proc.log})")
        per_target = sorted(r["spec"]["alert"]["labels"]["deployment"] for r in rems)
        assert per_target == sorted(names), "exactly one Remediation per alert"
        failed = {
            r["metadata"]["name"]: r["status"]
            for r in rems
            if r["status"]["phase"] not in FINISHED or {st["phase"] for st in r["status"]["steps"]} != {"Succeeded"}
        }
        assert not failed, f"{failed}\n{proc.output()[-4000:]}"
        for name in names:
            got = await kube.get("Deployment", name, namespace)
            assert got["spec"]["replicas"] == 3, f"{name}: 1 + 2, each relative step applied once"
            assert got["metadata"]["generation"] == 3, f"{name}: two spec changes, no more"
        assert {status for _, status in tap.seen[answered_before:]} <= {200, 503}, tap.seen
    finally:
        await am.stop()
        await tap.stop()
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)
