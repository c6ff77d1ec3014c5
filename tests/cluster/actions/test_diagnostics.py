"""collect_diagnostics against the real API server (kwok: pods run, but no container writes a log)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import deployment, ready_pods, wait_for

registry = load_registry()
PASSWORD = "correct-horse-battery-staple"


async def _rolled_out(kube: KubeClient, namespace: str, name: str, replicas: int) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        dep = await kube.get("Deployment", name, namespace)
        status = dep.get("status", {})
        if status.get("observedGeneration") != dep["metadata"]["generation"]:
            return None
        if status.get("updatedReplicas") != replicas or status.get("availableReplicas") != replicas:
            return None
        pods = ready_pods(await kube.list("Pod", namespace, label_selector=f"app={name}"))
        return pods if len(pods) == replicas else None

    pods: list[dict[str, Any]] = await wait_for(done, what=f"deployment {name} to roll out")
    return pods


async def _bundle(kube: KubeClient, namespace: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cm = await kube.get("ConfigMap", name, namespace)
    return cm, json.loads(cm["data"]["bundle.json"])


async def test_pod_bundle_owner_chain_events_and_idempotence(kube: KubeClient, namespace: str) -> None:
    await kube.create(
        "Secret",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": PASSWORD}},
        namespace,
    )
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    manifest = deployment("web", 1)
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = env
    await kube.create("Deployment", manifest, namespace)
    [pod] = await _rolled_out(kube, namespace, "web", 1)
    pod_name = pod["metadata"]["name"]
    params = {"namespace": namespace, "name": pod_name}
    remediation = f"{namespace}/crashloop"

    dry = await registry.invoke("collect_diagnostics", params, ActionContext(kube=kube, dry_run=True))
    assert dry.dry_run
    assert not dry.changed
    assert "would store" in dry.message
    assert await kube.list("ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=suture") == []

    ctx = ActionContext(kube=kube, remediation=remediation)
    result = await registry.invoke("collect_diagnostics", params, ctx)
    assert result.changed
    out = result.output
    assert out["configMap"].startswith("suture-diag-")
    assert out["kind"] == "Pod"
    assert out["phase"] == "Running"
    assert out["conditions"]["Ready"] == "True"
    assert out["restarts"] == {f"{pod_name}/main": 0}
    assert out["owners"][0].startswith("ReplicaSet/web-")
    assert out["owners"][1] == "Deployment/web"
    assert out["truncated"] is False
    assert out["logs"]["collected"] + out["logs"]["failed"] == 1
    assert len(json.dumps(out)) < 2000  # a summary, not the bundle

    cm, bundle = await _bundle(kube, namespace, out["configMap"])
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "suture"}
    assert cm["metadata"]["annotations"]["suture.dev/remediation"] == remediation
    assert "ownerReferences" not in cm["metadata"]
    assert bundle["object"]["metadata"]["uid"] == pod["metadata"]["uid"]
    assert "managedFields" not in bundle["object"]["metadata"]
    dep = await kube.get("Deployment", "web", namespace)
    assert [o["kind"] for o in bundle["owners"]] == ["ReplicaSet", "Deployment"]
    assert bundle["owners"][1]["object"]["metadata"]["uid"] == dep["metadata"]["uid"]
    assert bundle["containers"][0]["name"] == "main"
    assert bundle["containers"][0]["ready"] is True
    [log] = bundle["logs"]
    assert log["pod"] == pod_name
    assert log["container"] == "main"
    assert ("text" in log) != ("error" in log)  # kwok serves no logs: the failure is recorded, not raised
    expected_events = await kube.list("Event", namespace, field_selector=f"involvedObject.uid={pod['metadata']['uid']}")
    assert sorted(e["reason"] for e in bundle["events"]) == sorted(e["reason"] for e in expected_events)
    assert PASSWORD not in cm["data"]["bundle.json"]

    again = await registry.invoke("collect_diagnostics", params, ctx)
    assert not again.changed
    assert again.output["configMap"] == out["configMap"]
    assert (await kube.get("ConfigMap", out["configMap"], namespace))["metadata"]["resourceVersion"] == cm["metadata"][
        "resourceVersion"
    ]

    # Another Remediation gets its own ConfigMap.
    other = await registry.invoke("collect_diagnostics", params, ActionContext(kube=kube, remediation="x/other"))
    assert other.output["configMap"] != out["configMap"]


async def test_restarts_previous_logs_events_and_owner(kube: KubeClient, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "flaky"},
        "spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "proxy:1"}]},
    }
    await kube.create("Pod", pod, namespace)

    async def running() -> dict[str, Any] | None:
        got = await kube.get("Pod", "flaky", namespace)
        return got if ready_pods([got]) else None

    live = await wait_for(running, what="the pod to run")
    # Make the app container look crash-looping: kwok plays no stage on a running bare pod, so this sticks.
    statuses = live["status"]["containerStatuses"]
    for cs in statuses:
        if cs["name"] == "app":
            cs["restartCount"] = 3
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T00:00:00Z"}}
    await kube.patch("Pod", "flaky", {"status": {"containerStatuses": statuses}}, namespace, subresource="status")
    await kube.create(
        "Event",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "flaky.backoff"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "flaky",
                "namespace": namespace,
                "uid": live["metadata"]["uid"],
            },
            "reason": "BackOff",
            "message": "Back-off restarting failed container app",
            "type": "Warning",
            "count": 5,
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:01:00Z",
            "source": {"component": "kubelet"},
        },
        namespace,
    )
    owner_cm = await kube.create(
        "ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, namespace
    )
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_cm["metadata"]["uid"]}
    ctx = ActionContext(kube=kube, remediation=f"{namespace}/owner", owner=owner)

    result = await registry.invoke("collect_diagnostics", {"namespace": namespace, "name": "flaky"}, ctx)
    assert result.output["restarts"] == {"flaky/app": 3, "flaky/sidecar": 0}
    assert result.output["eventReasons"]["BackOff"] == 5
    assert sum(result.output["logs"].values()) == 3  # app, app (previous), sidecar
    cm, bundle = await _bundle(kube, namespace, result.output["configMap"])
    assert cm["metadata"]["ownerReferences"] == [owner]
    assert sorted((e["container"], e["previous"]) for e in bundle["logs"]) == [
        ("app", False),
        ("app", True),
        ("sidecar", False),
    ]
    backoff = next(e for e in bundle["events"] if e["reason"] == "BackOff")
    assert backoff["object"] == "Pod/flaky"
    assert backoff["source"] == "kubelet"

    # New state, same ConfigMap rewritten in place.
    await kube.patch("Pod", "flaky", {"metadata": {"labels": {"seen": "twice"}}}, namespace)
    again = await registry.invoke("collect_diagnostics", {"namespace": namespace, "name": "flaky"}, ctx)
    assert again.changed
    cm2, bundle2 = await _bundle(kube, namespace, result.output["configMap"])
    assert cm2["metadata"]["uid"] == cm["metadata"]["uid"]
    assert bundle2["object"]["metadata"]["labels"] == {"seen": "twice"}


async def test_workload_target_covers_its_pods_and_truncates(kube: KubeClient, namespace: str) -> None:
    manifest = deployment("api", 2)
    # A large annotation on the Deployment makes the bundle exceed a small maxBytes.
    manifest["metadata"]["annotations"] = {"notes": "x" * 20000}
    await kube.create("Deployment", manifest, namespace)
    pods = await _rolled_out(kube, namespace, "api", 2)
    ctx = ActionContext(kube=kube)

    result = await registry.invoke(
        "collect_diagnostics", {"namespace": namespace, "name": "api", "kind": "Deployment"}, ctx
    )
    assert result.output["conditions"]["Available"] == "True"
    assert set(result.output["restarts"]) == {f"{p['metadata']['name']}/main" for p in pods}
    _, bundle = await _bundle(kube, namespace, result.output["configMap"])
    assert sorted(bundle["pods"]) == sorted(f"Pod/{p['metadata']['name']}" for p in pods)
    assert bundle["truncated"] == []

    small = await registry.invoke(
        "collect_diagnostics",
        {"namespace": namespace, "name": "api", "kind": "Deployment", "maxBytes": 4096},
        ctx,
    )
    assert small.output["truncated"] is True
    assert small.output["bytes"] <= 4096
    cm, bundle = await _bundle(kube, namespace, small.output["configMap"])
    assert len(cm["data"]["bundle.json"].encode()) <= 4096
    assert bundle["truncated"][0] == "annotations"
    assert bundle["target"]["name"] == "api"
    assert bundle["object"]["metadata"]["annotations"]["notes"].endswith("… (20000 characters)")


async def test_refusals(kube: KubeClient, namespace: str) -> None:
    ctx = ActionContext(kube=kube)
    with pytest.raises(ActionError) as info:
        await registry.invoke("collect_diagnostics", {"namespace": namespace, "name": "ghost"}, ctx)
    assert info.value.category is ErrorCategory.NOT_FOUND
    assert "ghost" in str(info.value)
    assert await kube.list("ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=suture") == []

    with pytest.raises(ActionError) as info:
        await registry.invoke("collect_diagnostics", {"namespace": namespace, "name": "db", "kind": "Secret"}, ctx)
    assert info.value.category is ErrorCategory.FORBIDDEN

    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "collect_diagnostics",
            {"namespace": namespace, "name": "p"},
            ActionContext(kube=kube, allowed_namespace="x"),
        )
    assert info.value.category is ErrorCategory.FORBIDDEN
