"""`helm install` of the chart, then `suture run` outside the cluster as the chart's ServiceAccount
(a TokenRequest token, so the RBAC is the chart's, not admin's) runs every example template in
examples/templates/ against a matching workload. Any 403 fails the test.

The examples are run as written except for their clocks (waits, `for`, intervals and backoffs shrink
to a second) and their notification URLs (a sink in this test). Prometheus is a stub answering 0.7 to
every query, which passes each example's checks; Alertmanager is Debian's real one (0.25), so the
silences are made and expired by Alertmanager itself. The published snapshot CRDs are installed; the
test plays the controllers the cluster lacks: the storage resizer for the PVC and the snapshot
controller (status.readyToUse, through the status subresource). kwok's pod-complete Stage finishes the
Jobs' pods, so the Job controller marks the Jobs Complete.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.actions.thirdparty import snapshot_crds  # noqa: F401 - fixture
from tests.cluster.chart_install import Installed, installed_chart
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import REPO, deployment, free_port, rolled_out, wait_for
from tests.e2e.processes import Alertmanager, alertmanager_binary

pytestmark = pytest.mark.long  # `make test-chart`

EXAMPLES = REPO / "examples" / "templates"
QUICK = {"duration", "for", "interval", "backoff", "maxBackoff"}
DONE = ("Succeeded", "Verifying", "Failed", "RolledBack", "Refused", "Cancelled")
SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
APPROVED_BEFOREHAND = {"deployment-rollout-stuck": "approve", "repair-database": "approve"}  # example: its step


def _quick(node: Any, sink: str) -> Any:
    """The example with its clocks shrunk and its notifications sent to ``sink``."""
    if isinstance(node, dict):
        return {k: "1s" if k in QUICK and isinstance(v, str) else _quick(v, sink) for k, v in node.items()}
    if isinstance(node, list):
        return [_quick(v, sink) for v in node]
    if isinstance(node, str):
        return node.replace("http://127.0.0.1:9095", sink)
    return node


@pytest.fixture
async def stubs() -> AsyncIterator[tuple[str, str, list[dict[str, Any]]]]:
    """(Prometheus URL, notification sink URL, notifications received) on loopback."""
    received: list[dict[str, Any]] = []

    async def query(_: web.Request) -> web.Response:
        sample = {"metric": {}, "value": [0, "0.7"]}
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": [sample]}})

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    app.router.add_post("/hooks/{channel}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


@pytest.fixture
async def alertmanager(tmp_path: Path, stubs: tuple[str, str, list[dict[str, Any]]]) -> AsyncIterator[Alertmanager]:
    """Debian's Alertmanager on loopback; nothing fires, the examples only silence through its API v2."""
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()
    token = workdir / "token"
    token.write_text("unused\n")
    am = Alertmanager(
        workdir,
        webhook_url=f"{stubs[1]}/hooks/alertmanager",
        token_file=token,
        binary=alertmanager_binary("0.25-debian"),
    )
    await am.start()
    try:
        yield am
    finally:
        await am.stop()


@pytest.fixture
async def chart(kube: KubeClient, kubeconfig: str, tmp_path: Path, suture_crds: list[str]) -> AsyncIterator[Installed]:
    async with installed_chart(kube, kubeconfig, tmp_path) as inst:
        yield inst


CLAIMS = {"data": "pv", "search-index": "pv-index"}  # claim: its static PV's name prefix


def _app(name: str, replicas: int = 1, **labels: str) -> dict[str, Any]:
    body = deployment(name, replicas, labels={"app": name, **labels})
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "64Mi", "cpu": "50m"},
        "limits": {"memory": "128Mi"},
    }
    return body


async def _workloads(kube: KubeClient, ns: str, suffix: str) -> dict[str, Any]:
    """One workload per example; returns what the alerts name."""
    for name, labels in [
        ("oom-app", {}),
        ("short-app", {}),
        ("stuck-app", {}),
        ("crash-app", {}),
        ("api", {}),
        ("fe-a", {"tier": "frontend"}),
        ("fe-b", {"tier": "frontend"}),
    ]:
        await kube.create("Deployment", _app(name, **labels), ns)
    # repair-database: the database's StatefulSet and the Secret its Job's env names (Suture never reads it).
    await kube.create(
        "StatefulSet",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "orders-db"},
            "spec": {
                "serviceName": "orders-db",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "orders-db"}},
                "template": {
                    "metadata": {"labels": {"app": "orders-db"}},
                    "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
                },
            },
        },
        ns,
    )
    await kube.create(
        "Secret",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "orders-db-app"},
            "stringData": {"host": "orders-db", "dbname": "orders", "user": "app", "password": "not-used"},
        },
        ns,
    )
    await kube.create(
        "Service",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "checkout"},
            "spec": {"selector": {"tier": "frontend"}, "ports": [{"port": 80}]},
        },
        ns,
    )
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
    }
    await kube.create("HorizontalPodAutoscaler", hpa, ns)
    # A PVC bound to a static PV of an expandable StorageClass (no provisioner runs here).
    storage_class = f"expandable-{suffix}"
    await kube.create(
        "StorageClass",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": storage_class},
            "provisioner": "kubernetes.io/no-provisioner",
            "allowVolumeExpansion": True,
        },
    )
    # "data" for volume-filling-up, "search-index" for compact-storage.
    for claim, pv in CLAIMS.items():
        await kube.create(
            "PersistentVolume",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"{pv}-{suffix}"},
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "hostPath": {"path": f"/tmp/suture-{suffix}-{claim}"},
                    "claimRef": {"namespace": ns, "name": claim},
                },
            },
        )
        await kube.create(
            "PersistentVolumeClaim",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "volumeName": f"{pv}-{suffix}",
                    "resources": {"requests": {"storage": "10Gi"}},
                },
            },
            ns,
        )
    # stuck-app gets a second revision, so that the rollback has somewhere to go.
    await wait_for(lambda: rolled_out(kube, "Deployment", ns, "stuck-app"), timeout=60, what="stuck-app v1")
    await kube.patch(
        "Deployment",
        "stuck-app",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
        ns,
        patch_type="strategic",
    )
    for name in ("oom-app", "stuck-app", "crash-app", "short-app", "fe-a", "fe-b", "api"):
        await wait_for(lambda n=name: rolled_out(kube, "Deployment", ns, n), timeout=60, what=f"{name} rolled out")

    async def bound() -> bool:
        pvcs = [await kube.get("PersistentVolumeClaim", claim, ns) for claim in CLAIMS]
        return all((pvc.get("status") or {}).get("phase") == "Bound" for pvc in pvcs)

    await wait_for(bound, timeout=60, what="the PVCs to bind")
    pods = {}
    for name in ("oom-app", "crash-app"):
        (pod, *_) = await kube.list("Pod", ns, label_selector=f"app={name}")
        pods[name] = pod["metadata"]["name"]
    nodes = await kube.list("Node")
    return {"pods": pods, "node": nodes[0]["metadata"]["name"], "storage_class": storage_class}


def _alerts(ns: str, names: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per example template, the alert of a Remediation made by hand."""
    return {
        "compact-storage": {
            "name": "KubePersistentVolumeFillingUp",
            "labels": {"namespace": ns, "persistentvolumeclaim": "search-index"},
        },
        "container-oom-killed": {
            "name": "KubeContainerOOMKilled",
            "labels": {"namespace": ns, "pod": names["pods"]["oom-app"], "container": "main"},
        },
        "deployment-replicas-mismatch": {
            "name": "KubeDeploymentReplicasMismatch",
            "labels": {"namespace": ns, "deployment": "short-app"},
        },
        "deployment-rollout-stuck": {
            "name": "KubeDeploymentRolloutStuck",
            "labels": {"namespace": ns, "deployment": "stuck-app"},
        },
        "high-latency": {"name": "HighRequestLatency", "labels": {"namespace": ns, "service": "checkout"}},
        "hpa-maxed-out": {"name": "KubeHpaMaxedOut", "labels": {"namespace": ns, "horizontalpodautoscaler": "api"}},
        "node-not-ready": {"name": "KubeNodeNotReady", "labels": {"node": names["node"]}},
        "pod-crashlooping": {
            "name": "KubePodCrashLooping",
            "labels": {"namespace": ns, "pod": names["pods"]["crash-app"], "severity": "warning"},
        },
        "repair-database": {
            "name": "PostgreSQLTableBloat",
            "labels": {"namespace": ns, "statefulset": "orders-db"},
        },
        "volume-filling-up": {
            "name": "KubePersistentVolumeFillingUp",
            "labels": {"namespace": ns, "persistentvolumeclaim": "data"},
        },
    }


async def _play_resizer(kube: KubeClient, ns: str) -> None:
    """What a CSI resizer does: report the requested size as the claim's capacity."""
    while True:
        pvc = await kube.get("PersistentVolumeClaim", "data", ns)
        want = pvc["spec"]["resources"]["requests"]["storage"]
        if (pvc.get("status") or {}).get("capacity", {}).get("storage") != want:
            await kube.patch(
                "PersistentVolumeClaim", "data", {"status": {"capacity": {"storage": want}}}, ns, subresource="status"
            )
        await asyncio.sleep(0.5)


async def _play_snapshot_controller(kube: KubeClient, ns: str) -> None:
    """What the CSI snapshot controller does once its driver has cut the snapshot: report it ready to use."""
    while True:
        for snapshot in await kube.list("VolumeSnapshot", ns, api_version=SNAPSHOT_API):
            if not (snapshot.get("status") or {}).get("readyToUse"):
                name = snapshot["metadata"]["name"]
                status = {"readyToUse": True, "boundVolumeSnapshotContentName": f"snapcontent-{name}"}
                await kube.patch(
                    "VolumeSnapshot", name, {"status": status}, ns, api_version=SNAPSHOT_API, subresource="status"
                )
        await asyncio.sleep(0.5)


async def _silences(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v2/silences") as r:
        assert r.status == 200, await r.text()
        silences: list[dict[str, Any]] = await r.json()
        return silences


def _job(jobs: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    (job,) = [j for j in jobs if j["metadata"]["name"].startswith(f"{prefix}-")]
    return job


@pytest.mark.usefixtures("snapshot_crds")
async def test_every_example_template_runs_with_the_charts_rbac(
    chart: Installed,
    kube: KubeClient,
    namespace: str,
    tmp_path: Path,
    stubs: tuple[str, str, list[dict[str, Any]]],
    alertmanager: Alertmanager,
) -> None:
    prometheus, sink, notifications = stubs
    suffix = uuid.uuid4().hex[:6]
    names = await _workloads(kube, namespace, suffix)
    alerts = _alerts(namespace, names)
    examples = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    assert sorted(e["metadata"]["name"] for e in examples) == sorted(alerts), "a new example needs its workload here"
    refs: dict[str, dict[str, str]] = {}
    cluster_templates: list[str] = []
    for example in examples:
        body = _quick(example, sink)
        original = body["metadata"]["name"]
        if body["kind"] == "ClusterWorkflowTemplate":
            body["metadata"] = {"name": f"{original}-{suffix}"}
            body["spec"]["allowedRemediationNamespaces"] = [namespace]
            await kube.create(body["kind"], body, api_version=API_VERSION)
            cluster_templates.append(body["metadata"]["name"])
        else:
            body["metadata"] = {"name": original}
            await kube.create(body["kind"], body, namespace, api_version=API_VERSION)
        refs[original] = {"name": body["metadata"]["name"], "kind": body["kind"]}

    operator = OperatorProcess(
        chart.kubeconfig,
        tmp_path,
        None,
        SUTURE_HOME_NAMESPACE=chart.namespace,
        SUTURE_PROMETHEUS_URL=prometheus,
        SUTURE_ALERTMANAGER_URL=alertmanager.url,
    )
    await operator.start()
    controllers = [
        asyncio.create_task(_play_resizer(kube, namespace)),
        asyncio.create_task(_play_snapshot_controller(kube, namespace)),
    ]
    try:
        for original, ref in refs.items():
            spec: dict[str, Any] = {"templateRef": ref, "alert": alerts[original]}
            if original in APPROVED_BEFOREHAND:  # its approval, answered before it is asked
                spec["approval"] = {"decision": "Approved", "step": APPROVED_BEFOREHAND[original]}
            body = {"apiVersion": API_VERSION, "kind": "Remediation", "metadata": {"name": original}, "spec": spec}
            await kube.create("Remediation", body, namespace, api_version=API_VERSION)

        async def all_done() -> dict[str, dict[str, Any]] | None:
            items = await kube.list("Remediation", namespace, api_version=API_VERSION)
            statuses = {r["metadata"]["name"]: r.get("status") or {} for r in items}
            return statuses if all(s.get("phase") in DONE for s in statuses.values()) else None

        statuses = await wait_for(all_done, timeout=180, interval=1, what="every example's run to finish")
    finally:
        for task in controllers:
            task.cancel()
        await operator.kill(signal.SIGTERM)
        for name in cluster_templates:
            await kube.delete("ClusterWorkflowTemplate", name, api_version=API_VERSION)
        for pv in CLAIMS.values():
            await kube.delete("PersistentVolume", f"{pv}-{suffix}")
        await kube.delete("StorageClass", names["storage_class"])

    log = operator.output()
    assert "Forbidden" not in log, log[-4000:]
    # A whole-word 403: the silences' ids are hex and may hold "403" ("silence 403a…" is no refusal).
    assert not re.search(r" 403\b", log), log[-4000:]
    for name, status in statuses.items():
        assert "Forbidden" not in str(status), (name, status)
        assert status["phase"] in ("Succeeded", "Verifying"), (name, status, log[-3000:])

    # The actions did what the examples say, with the chart's RBAC.
    oom = await kube.get("Deployment", "oom-app", namespace)
    assert oom["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "192Mi"
    stuck = await kube.get("Deployment", "stuck-app", namespace)
    assert stuck["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert (await kube.get("HorizontalPodAutoscaler", "api", namespace))["spec"]["maxReplicas"] == 6
    for name in ("fe-a", "fe-b"):
        assert (await kube.get("Deployment", name, namespace))["spec"]["replicas"] == 2
    pvc = await kube.get("PersistentVolumeClaim", "data", namespace)
    assert pvc["spec"]["resources"]["requests"]["storage"] == "15Gi"
    node = statuses["node-not-ready"]
    assert [s["name"] for s in node["steps"] if s["phase"] == "Succeeded"][:2] == ["cordon", "grace"], node
    assert not (await kube.get("Node", names["node"]))["spec"].get("unschedulable")  # uncordoned again
    crash_pods = await kube.list("Pod", namespace, label_selector="app=crash-app")
    assert names["pods"]["crash-app"] not in [p["metadata"]["name"] for p in crash_pods]  # restarted
    assert any(n for n in notifications), "the rollback's notification reached the sink"

    # compact-storage: a snapshot of the claim, ready before the compaction Job ran over the same claim.
    (snapshot,) = await kube.list("VolumeSnapshot", namespace, api_version=SNAPSHOT_API)
    assert snapshot["spec"]["source"] == {"persistentVolumeClaimName": "search-index"}
    compact_steps = {s["name"]: s for s in statuses["compact-storage"]["steps"]}
    assert compact_steps["backup"]["phase"] == "Succeeded", compact_steps
    jobs = await kube.list("Job", namespace)
    compact = _job(jobs, "compact-index")
    assert compact["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "search-index"}
    assert compact["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/search/indexer:4.2"
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in compact["status"]["conditions"])
    # repair-database: the StatefulSet's history in an audit ConfigMap, then the approved VACUUM Job.
    (audit,) = [c for c in await kube.list("ConfigMap", namespace) if c["metadata"]["name"].startswith("suture-audit-")]
    assert audit["metadata"]["annotations"]["suture.dev/target"] == f"StatefulSet {namespace}/orders-db"
    history = json.loads(audit["data"]["audit.json"])
    assert history["target"]["name"] == "orders-db", history
    assert history["problems"] == [], history
    vacuum = _job(jobs, "vacuum")
    env = vacuum["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env} == {"orders-db-app"}
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in vacuum["status"]["conditions"])
    # high-latency: Alertmanager holds the run's silence on the alert's labels, expired by the last step.
    (silence,) = await _silences(alertmanager.url)
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}
    assert matchers == {"namespace": namespace, "service": "checkout"}, silence
    assert "scaling out for high latency" in silence["comment"]
    assert silence["status"]["state"] == "expired", silence
