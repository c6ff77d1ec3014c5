"""The receiver inside `suture run`, posted to directly, against the real API server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, ready_pods, wait_for


@pytest.fixture
async def operator_proc(
    kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> AsyncIterator[OperatorProcess]:
    proc = OperatorProcess(kubeconfig, tmp_path, namespace, SUTURE_HOME_NAMESPACE=namespace)
    await proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


async def _template(kube: KubeClient, namespace: str, target: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "fix-web"},
        "spec": {"match": {"alertNames": ["WebBroken"]}, "target": target, "steps": steps},
    }
    await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)

    async def valid() -> bool:
        got = await kube.get("WorkflowTemplate", "fix-web", namespace, api_version=API_VERSION)
        return any(c["type"] == "Valid" and c["status"] == "True" for c in got.get("status", {}).get("conditions", []))

    await wait_for(valid, timeout=60, what="fix-web to be Valid")


async def _post(proc: OperatorProcess, alerts: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    body = {"version": "4", "status": "firing", "receiver": "suture", "groupKey": "{}", "alerts": alerts}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{proc.port}/webhook/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {proc.token}"},
        ) as response,
    ):
        return response.status, await response.json()


def _alert(namespace: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "WebBroken", "namespace": namespace, **labels},
        "annotations": {},
        "startsAt": "2026-11-29T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


async def _ready(proc: OperatorProcess) -> None:
    async def ready() -> bool:
        try:
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{proc.port}/readyz") as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    await wait_for(ready, timeout=60, what=f"/readyz (log {proc.log})")


async def test_a_global_pause_set_by_the_cli_suppresses_alerts_until_resumed(
    operator_proc: OperatorProcess, kube: KubeClient, kubeconfig: str, namespace: str
) -> None:
    from suture.cli import main

    await kube.create("Deployment", deployment("web", 1), namespace)
    await _template(
        kube, namespace, {"kind": "Deployment", "name": "web"}, [{"name": "look", "wait": {"duration": "1s"}}]
    )
    await _ready(operator_proc)
    pause = ["pause", "--all", "--home-namespace", namespace, "--kubeconfig", kubeconfig, "--reason", "freeze"]
    assert await asyncio.to_thread(main, pause) == 0
    status, summary = await _post(operator_proc, [_alert(namespace, "a1")])
    assert status == 200
    assert [(s["reason"], s["fingerprint"]) for s in summary["suppressed"]] == [("Paused", "a1")]
    assert await kube.list("Remediation", namespace, api_version=API_VERSION) == []

    resume = ["resume", "--all", "--home-namespace", namespace, "--kubeconfig", kubeconfig]
    assert await asyncio.to_thread(main, resume) == 0
    status, summary = await _post(operator_proc, [_alert(namespace, "a1")])
    assert (status, len(summary["created"])) == (200, 1)


async def test_alerts_on_pods_of_one_deployment_start_one_run_and_are_related_to_it(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)

    async def two_pods() -> list[dict[str, Any]]:
        pods = ready_pods(await kube.list("Pod", namespace, label_selector="app=web"))
        return pods if len(pods) == 2 else []

    pods = [p["metadata"]["name"] for p in await wait_for(two_pods, timeout=60, what="two ready web pods")]
    target = {"kind": "Pod", "name": "${{ alert.labels.pod }}", "owner": "Deployment"}
    await _template(kube, namespace, target, [{"name": "ask", "approval": {"message": "go?", "timeout": "5m"}}])
    await _ready(operator_proc)

    status, first = await _post(operator_proc, [_alert(namespace, "b1", pod=pods[0])])
    assert (status, len(first["created"])) == (200, 1)
    status, second = await _post(operator_proc, [_alert(namespace, "b2", pod=pods[1])])
    assert status == 200
    assert [s["reason"] for s in second["suppressed"]] == ["TargetBusy"]

    (rem,) = await kube.list("Remediation", namespace, api_version=API_VERSION)
    web = await kube.get("Deployment", "web", namespace)
    assert rem["spec"]["target"]["uid"] == web["metadata"]["uid"]
    assert [(r["fingerprint"], r["labels"]["pod"]) for r in rem["status"]["relatedAlerts"]] == [("b2", pods[1])]

    async def waiting() -> bool:
        got = await kube.get("Remediation", rem["metadata"]["name"], namespace, api_version=API_VERSION)
        return (got.get("status") or {}).get("phase") == "WaitingApproval"

    # The run started from the receiver's Remediation, on the resolved Deployment, and kept the related alert.
    await wait_for(waiting, timeout=30, what=f"the run to wait for approval (log {operator_proc.log})")
    got = await kube.get("Remediation", rem["metadata"]["name"], namespace, api_version=API_VERSION)
    assert len(got["status"]["relatedAlerts"]) == 1


async def test_the_receiver_works_with_the_generated_role_only(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    import uuid

    from suture.actions import load_registry
    from suture.rbac import cluster_role, cluster_role_binding
    from tests.cluster.identity import service_account_kubeconfig

    role = cluster_role(load_registry(), actions=["scale_deployment"])
    binding = cluster_role_binding(namespace=namespace, service_account="suture")
    name = f"suture-receiver-{uuid.uuid4().hex[:6]}"
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = name
    await kube.create("ClusterRole", role)
    await kube.create("ClusterRoleBinding", binding)
    proc: OperatorProcess | None = None
    try:
        sa = await service_account_kubeconfig(kube, kubeconfig, namespace, "suture", tmp_path / "sa.kubeconfig")
        await kube.create("Deployment", deployment("web", 1), namespace)
        proc = OperatorProcess(sa, tmp_path, namespace, SUTURE_HOME_NAMESPACE=namespace)
        await proc.start()
        steps = [{"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 2}}}]
        await _template(kube, namespace, {"kind": "Deployment", "name": "web"}, steps)
        await _ready(proc)
        status, summary = await _post(proc, [_alert(namespace, "c1")])
        assert (status, len(summary["created"])) == (200, 1), (summary, proc.output()[-3000:])

        async def scaled() -> bool:
            return bool((await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2)

        await wait_for(scaled, timeout=60, what="the run started from the webhook")
        assert "Forbidden" not in proc.output()
    finally:
        if proc is not None and proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)
        await kube.delete("ClusterRoleBinding", name)
        await kube.delete("ClusterRole", name)


async def test_an_alert_within_the_cooldown_of_a_finished_run_is_suppressed_at_receipt(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "fix-web"},
        "spec": {
            "match": {"alertNames": ["WebBroken"]},
            "target": {"kind": "Deployment", "name": "web"},
            # dryRun: a dry run's success is final (no Verifying), so the target is free again at once
            "safety": {"cooldown": "30m", "dryRun": True},
            "steps": [{"name": "look", "wait": {"duration": "1s"}}],
        },
    }
    await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)
    await _ready(operator_proc)

    async def valid() -> bool:
        got = await kube.get("WorkflowTemplate", "fix-web", namespace, api_version=API_VERSION)
        return any(c["type"] == "Valid" and c["status"] == "True" for c in got.get("status", {}).get("conditions", []))

    await wait_for(valid, timeout=60, what="fix-web to be Valid")
    status, first = await _post(operator_proc, [_alert(namespace, "c1")])
    assert (status, len(first["created"])) == (200, 1)

    async def succeeded() -> bool:
        got = await kube.get("Remediation", first["created"][0], namespace, api_version=API_VERSION)
        return (got.get("status") or {}).get("phase") == "Succeeded"

    await wait_for(succeeded, timeout=60, what=f"the first run to succeed (log {operator_proc.log})")
    status, second = await _post(operator_proc, [_alert(namespace, "c2")])
    assert status == 200
    assert second["created"] == []
    ((reason, fingerprint, message),) = [(s["reason"], s["fingerprint"], s["message"]) for s in second["suppressed"]]
    assert (reason, fingerprint) == ("Cooldown", "c2")
    assert first["created"][0] in message
    assert [r["metadata"]["name"] for r in await kube.list("Remediation", namespace, api_version=API_VERSION)] == (
        first["created"]
    )
    # The run start, which counts the same history, still refuses a Remediation created by hand for the target.
    by_hand = {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": "by-hand"},
        "spec": {"templateRef": {"name": "fix-web"}, "alert": {"name": "WebBroken", "fingerprint": "c3"}},
    }
    await kube.create("Remediation", by_hand, namespace, api_version=API_VERSION)

    async def refused() -> str | None:
        got = await kube.get("Remediation", "by-hand", namespace, api_version=API_VERSION)
        found = [c for c in (got.get("status") or {}).get("conditions") or [] if c.get("type") == "Refused"]
        return str(found[0]["reason"]) if found else None

    await wait_for(refused, timeout=60, what=f"the hand-made run to be refused (log {operator_proc.log})")
    assert await refused() == "Cooldown"
