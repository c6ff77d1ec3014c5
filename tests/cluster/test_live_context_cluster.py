"""The live context on the real local control plane: `suture run`'s receiver reads the alert's pod (its
last termination, restarts), the pod's ReplicaSet (a recent rollout) and its node, ranks with it, explains
it in the Remediation, and learns the outcome on it: the template that worked under that context ranks
higher for the next alert with the same context."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_receiver import _post, _ready
from tests.cluster.test_verification_cluster import History, _in_phase, _post_resolved
from tests.conftest import deployment, wait_for

STARTS = ("2026-11-29T06:00:00Z", "2026-11-29T07:00:00Z")


def _alert(namespace: str, pod: str, fingerprint: str, starts: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": pod, "container": "main"},
        "annotations": {"description": "Pod is in waiting state (reason: CrashLoopBackOff)."},
        "startsAt": starts,
        "endsAt": "2026-11-29T08:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def _template(name: str, priority: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "priority": priority,
            "match": {"alertNames": ["KubePodCrashLooping"]},
            "target": {"kind": "Deployment", "name": "web"},
            "steps": [{"name": "look", "wait": {"duration": "1s"}}],
            "verify": {"alertResolvedWithin": "5m"},
            "safety": {"cooldown": "0s"},  # the second alert follows the first on the same target at once
        },
    }


@pytest.fixture
async def operator(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> AsyncIterator[OperatorProcess]:
    proc = OperatorProcess(kubeconfig, tmp_path, namespace, SUTURE_HOME_NAMESPACE=namespace, SUTURE_VERIFY_INTERVAL="1")
    await proc.start()
    await _ready(proc)
    yield proc
    if proc.proc is not None and proc.proc.returncode is None:
        await proc.kill(signal.SIGTERM)


async def _oom_killed_pod(kube: KubeClient, namespace: str) -> str:
    """web's pod, once running, with the OOM kill a kubelet would report written into its status."""

    async def running() -> Any:
        pods = await kube.list("Pod", namespace, label_selector="app=web")
        return next((p for p in pods if (p.get("status") or {}).get("containerStatuses")), None)

    pod = await wait_for(running, timeout=60, what="web's pod to run")
    (status,) = pod["status"]["containerStatuses"]
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-29T05:59:00Z"}}
    # containerStatuses is an atomic list: write the container's whole status.
    patch = {"status": {"containerStatuses": [{**status, "restartCount": 3, "lastState": killed}]}}
    await kube.patch("Pod", pod["metadata"]["name"], patch, namespace, subresource="status")
    return str(pod["metadata"]["name"])


async def test_the_context_is_explained_and_the_template_that_worked_under_it_ranks_higher_next_time(
    operator: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    proc = operator
    await kube.create("Deployment", deployment("web", 1), namespace)
    for name, priority in (("raise-memory", 10), ("restart-web", 0)):
        await kube.create("WorkflowTemplate", _template(name, priority), namespace, api_version=API_VERSION)
    pod = await _oom_killed_pod(kube, namespace)
    for name in ("raise-memory", "restart-web"):

        async def valid(name: str = name) -> bool:
            got = await kube.get("WorkflowTemplate", name, namespace, api_version=API_VERSION)
            conditions = (got.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Valid" and c["status"] == "True" for c in conditions)

        await wait_for(valid, timeout=60, what=f"{name} to be Valid")

    status, summary = await _post(proc, [_alert(namespace, pod, "c1", STARTS[0])])
    assert status == 200, summary
    (first,) = summary["created"]
    verifying = await wait_for(_in_phase(kube, namespace, first, "Verifying"), timeout=60, what=proc.output()[-2000:])
    recommendation = verifying["status"]["recommendation"]
    assert recommendation["template"] == "raise-memory"
    context = recommendation["context"]
    assert (context["terminationReason"], context["exitCode"], context["restarts"]) == ("OOMKilled", 137, 3)
    assert context["recentRollout"] is True  # web's ReplicaSet was created minutes ago
    assert "nodeConditions" not in context  # kwok's nodes are healthy
    assert {f["feature"] for f in context["features"]} >= {"reason=OOMKilled", "exit=137", "restarts=1-3"}
    assert any(r.startswith("live context: reason=OOMKilled") for r in recommendation["reasons"])

    assert await _post_resolved(proc, _alert(namespace, pod, "c1", STARTS[0], status="resolved")) == 200
    done = await wait_for(_in_phase(kube, namespace, first, "Succeeded"), timeout=30, what="the verification")
    assert done["status"]["verification"]["outcome"] == "Effective", done["status"]

    async def kept() -> Any:
        try:
            return await History(proc.data_dir).run_of(verifying["metadata"]["uid"])
        except AssertionError:
            return None

    history = await wait_for(kept, timeout=30, what="the run in the SQL history")
    assert {"ctx:reason=OOMKilled", "ctx:exit=137", "ctx:rollout=recent"} <= set(history["features"])

    status, summary = await _post(proc, [_alert(namespace, pod, "c2", STARTS[1])])
    assert status == 200, summary
    (second,) = summary["created"]
    again = (await kube.get("Remediation", second, namespace, api_version=API_VERSION))["status"]["recommendation"]
    assert again["template"] == "raise-memory"
    assert again["score"] > recommendation["score"]
    assert again["context"]["terminationReason"] == "OOMKilled"
    assert any(r.startswith("learned: ") for r in again["reasons"])
