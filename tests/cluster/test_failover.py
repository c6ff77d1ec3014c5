"""Two `suture run` processes under leader election, and SIGTERM's graceful drain, on the real API server.

Both replicas share one checkpoint file and one effect journal (as replicas share
PostgreSQL in a cluster) and hold their own data directory. The run in flight
scales ``web`` 2 -> 3, waits, then scales 3 -> 5: the Deployment's
``metadata.generation`` counts spec changes, so "each step applied once" reads
as generation 1 + 2, and each step's StepStarted event appears once.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient
from suture.lease import LEASE_API_VERSION
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for

LEASE = "suture-leader"
FAST_LEASE = {
    "SUTURE_LEADER_ELECTION": "1",
    "SUTURE_LEASE_DURATION": "4",
    "SUTURE_LEASE_RENEW_DEADLINE": "3",
    "SUTURE_LEASE_RETRY_PERIOD": "0.5",
}


def _replica(kubeconfig: str, shared: Path, name: str, namespace: str, **env: str) -> OperatorProcess:
    data = shared / name
    data.mkdir()
    return OperatorProcess(
        kubeconfig,
        data,
        namespace,
        SUTURE_HOME_NAMESPACE=namespace,
        SUTURE_CHECKPOINTS=str(shared / "checkpoints.sqlite"),
        SUTURE_DATABASE_URL=str(shared / "suture.sqlite"),
        **env,
    )


@pytest.fixture
async def replicas(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> AsyncIterator[list[OperatorProcess]]:
    procs = [_replica(kubeconfig, tmp_path, name, namespace, **FAST_LEASE) for name in ("a", "b")]
    try:
        yield procs
        await _delete_remediations(kube, namespace)
    finally:
        for proc in procs:
            if proc.proc is not None and proc.proc.returncode is None:
                await proc.kill(signal.SIGKILL)


async def _delete_remediations(kube: KubeClient, namespace: str) -> None:
    """Delete the Remediations while an operator still runs: kopf's finalizer on them is only ever taken
    off by an operator, and with none left the namespace would stay Terminating."""
    for item in await kube.list("Remediation", namespace, api_version=API_VERSION):
        await kube.delete("Remediation", item["metadata"]["name"], namespace, api_version=API_VERSION)

    async def gone() -> bool:
        return not await kube.list("Remediation", namespace, api_version=API_VERSION)

    await wait_for(gone, timeout=30, what="the leader to let the Remediations go")


async def _get(proc: OperatorProcess, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{proc.port}{path}") as response,
    ):
        return response.status, await response.text()


async def _leader_gauge(proc: OperatorProcess) -> float | None:
    try:
        _, text = await _get(proc, "/metrics")
    except aiohttp.ClientError:
        return None
    for line in text.splitlines():
        if line.startswith("suture_leader "):
            return float(line.split()[1])
    return None


async def _holder(kube: KubeClient, namespace: str) -> str:
    lease = await kube.get_or_none("Lease", LEASE, namespace, api_version=LEASE_API_VERSION)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def _holds(kube: KubeClient, namespace: str, proc: OperatorProcess) -> Any:
    async def probe() -> bool:
        assert proc.proc is not None
        return (await _holder(kube, namespace)).endswith(f"-{proc.proc.pid}")

    return probe


async def _ready(proc: OperatorProcess) -> bool:
    try:
        return (await _get(proc, "/readyz"))[0] == 200
    except aiohttp.ClientError:
        return False


async def _start_run_in_pause(kube: KubeClient, namespace: str, pause: str) -> None:
    """Scale web 2 -> 3, pause, scale 3 -> 5; returns once the run is inside the pause."""
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "first", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {"name": "pause", "wait": {"duration": pause}},
        {"name": "second", "action": {"name": "scale_deployment", "params": {"replicas": 5}}},
    ]
    template = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "two-scales"},
        "spec": {"target": {"kind": "Deployment", "name": "web"}, "steps": steps},
    }
    await kube.create("WorkflowTemplate", template, namespace, api_version=API_VERSION)
    remediation = {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": "r1"},
        "spec": {"templateRef": {"name": "two-scales"}, "alert": {"name": "HighLoad", "labels": {"alertname": "X"}}},
    }
    await kube.create("Remediation", remediation, namespace, api_version=API_VERSION)

    async def pausing() -> bool:
        got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
        steps_now = {s["name"]: s["phase"] for s in (got.get("status") or {}).get("steps") or []}
        return steps_now.get("first") == "Succeeded" and steps_now.get("pause") == "Running"

    await wait_for(pausing, timeout=60, what="the run to be inside the pause")


async def _finished_once(kube: KubeClient, namespace: str, *procs: OperatorProcess) -> None:
    """The run succeeded, every step applied exactly once."""

    async def ended() -> Any:
        got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
        return got if (got.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Verifying") else None

    logs = "\n".join(p.output()[-3000:] for p in procs)
    done = await wait_for(ended, timeout=60, what="the run's end")
    assert done["status"]["phase"] in ("Succeeded", "Verifying"), logs
    web = await kube.get("Deployment", "web", namespace)
    assert web["spec"]["replicas"] == 5
    assert web["metadata"]["generation"] == 3, "each scale changed the spec once: 1 + 2"
    events = await kube.list("Event", namespace, field_selector="involvedObject.name=r1")
    started = [e["message"] for e in events if e["reason"] == "StepStarted"]
    assert sum("step first" in m for m in started) == 1, started
    assert sum("step second" in m for m in started) == 1, started


async def test_sigterm_mid_run_exits_and_the_restarted_operator_finishes_the_run_once(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    proc = _replica(kubeconfig, tmp_path, "solo", namespace)  # standalone: no leader election
    await proc.start()
    try:
        await _start_run_in_pause(kube, namespace, "5s")
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        code = await wait_for(lambda: _exit_code(proc), timeout=45, what="the operator to exit after SIGTERM")
        assert code == (0,), proc.output()[-3000:]
        assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3
        await proc.start()
        await _finished_once(kube, namespace, proc)
        await _delete_remediations(kube, namespace)
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


async def test_the_survivor_of_a_killed_leader_finishes_its_run_applying_no_step_twice(
    replicas: list[OperatorProcess], kube: KubeClient, namespace: str
) -> None:
    a, b = replicas
    await a.start()
    await wait_for(_holds(kube, namespace, a), timeout=90, what="a to take the Lease")
    await b.start()
    await wait_for(lambda: _ready(b), timeout=90, what="b ready (the follower serves webhooks too)")
    assert await _leader_gauge(a) == 1
    assert await _leader_gauge(b) == 0

    await _start_run_in_pause(kube, namespace, "6s")
    await a.kill(signal.SIGKILL)
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3
    await wait_for(_holds(kube, namespace, b), timeout=30, what="b to take the dead leader's Lease")
    await _finished_once(kube, namespace, a, b)
    assert await _leader_gauge(b) == 1
    assert "run resumed from its checkpoint" in b.output()


async def test_a_leader_stopped_by_sigterm_drains_hands_over_and_the_run_finishes_once(
    replicas: list[OperatorProcess], kube: KubeClient, namespace: str
) -> None:
    a, b = replicas
    await a.start()
    await wait_for(_holds(kube, namespace, a), timeout=90, what="a to take the Lease")
    await b.start()
    await wait_for(lambda: _ready(b), timeout=90, what="b ready")

    await _start_run_in_pause(kube, namespace, "8s")
    assert a.proc is not None
    a.proc.send_signal(signal.SIGTERM)
    # Bounded by SUTURE_SHUTDOWN_TIMEOUT (30 s by default): the pause is cut at once, nothing waits it out.
    code = await wait_for(lambda: _exit_code(a), timeout=45, what="a to exit after SIGTERM")
    assert code == (0,), a.output()[-3000:]
    assert "released Lease" in a.output()
    assert "stopping at their next checkpoint" in a.output()
    await wait_for(_holds(kube, namespace, b), timeout=30, what="b to take the released Lease")
    await _finished_once(kube, namespace, a, b)


async def _exit_code(proc: OperatorProcess) -> tuple[int] | None:
    assert proc.proc is not None
    return None if proc.proc.returncode is None else (proc.proc.returncode,)
