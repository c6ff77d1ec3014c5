"""The chart in namespaced mode on the real API server: its ServiceAccount reads and acts in the
watched namespaces and nowhere else, and `suture run` with that identity carries out a Remediation
in a watched namespace, ignores one in an unwatched namespace, and is refused (403) when a
ClusterWorkflowTemplate points it at an unwatched namespace."""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suture.api import API_VERSION
from suture.kube import ApiError, KubeClient, connect
from tests.cluster.chart_install import Installed, installed_chart
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for

WRITES = ("create", "update", "patch", "delete")


@pytest.fixture(scope="module")
async def three_namespaces(kube: KubeClient) -> AsyncIterator[tuple[str, str, str]]:
    """Two namespaces to watch and one not to (they must exist before the chart puts Roles in them)."""
    suffix = uuid.uuid4().hex[:6]
    names = (f"wa-{suffix}", f"wb-{suffix}", f"un-{suffix}")
    for name in names:
        await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield names
    finally:
        for name in names:
            await kube.delete("Namespace", name)


@pytest.fixture(scope="module")
async def namespaced_install(
    kube: KubeClient,
    kubeconfig: str,
    tmp_path_factory: pytest.TempPathFactory,
    suture_crds: list[str],
    three_namespaces: tuple[str, str, str],
) -> AsyncIterator[Installed]:
    watched_a, watched_b, _ = three_namespaces
    tmp = tmp_path_factory.mktemp("namespaced-install")
    async with installed_chart(kube, kubeconfig, tmp, f"watchNamespaces={{{watched_a},{watched_b}}}") as inst:
        yield inst


async def _status(client: KubeClient, call: Any) -> int:
    try:
        await call(client)
    except ApiError as exc:
        return exc.status
    return 200


async def test_the_service_account_reads_and_acts_only_where_it_watches(
    namespaced_install: Installed, kube: KubeClient, three_namespaces: tuple[str, str, str]
) -> None:
    watched, _, unwatched = three_namespaces
    for ns in (watched, unwatched):
        await kube.create("Deployment", deployment("probe", 1), ns)
    node = (await kube.list("Node"))[0]["metadata"]["name"]
    scale = {"spec": {"replicas": 2}}
    async with await connect(namespaced_install.kubeconfig) as sa:
        allowed = {
            "list pods, watched": await _status(sa, lambda c: c.list("Pod", watched)),
            "get the watched Namespace": await _status(sa, lambda c: c.get("Namespace", watched)),
            "scale, watched": await _status(
                sa, lambda c: c.patch("Deployment", "probe", scale, watched, subresource="scale", dry_run=True)
            ),
            "read nodes": await _status(sa, lambda c: c.get("Node", node)),
            "list remediations, watched": await _status(
                sa, lambda c: c.list("Remediation", watched, api_version=API_VERSION)
            ),
        }
        assert set(allowed.values()) == {200}, allowed
        refused = {
            "list pods, unwatched": await _status(sa, lambda c: c.list("Pod", unwatched)),
            "list pods, all namespaces": await _status(sa, lambda c: c.list("Pod")),
            "get the unwatched Namespace": await _status(sa, lambda c: c.get("Namespace", unwatched)),
            "list Namespaces": await _status(sa, lambda c: c.list("Namespace")),
            "get a Deployment, unwatched": await _status(sa, lambda c: c.get("Deployment", "probe", unwatched)),
            "scale, unwatched": await _status(
                sa, lambda c: c.patch("Deployment", "probe", scale, unwatched, subresource="scale", dry_run=True)
            ),
            "list remediations, unwatched": await _status(
                sa, lambda c: c.list("Remediation", unwatched, api_version=API_VERSION)
            ),
            "cordon a node (cluster-scoped write)": await _status(
                sa, lambda c: c.patch("Node", node, {"spec": {"unschedulable": True}}, dry_run=True)
            ),
            "list secrets, watched": await _status(sa, lambda c: c.list("Secret", watched, api_version="v1")),
        }
        assert set(refused.values()) == {403}, refused


def _scale_template(name: str, target: dict[str, Any], *, kind: str = "WorkflowTemplate") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "target": target,
            "steps": [{"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 3}}}],
        },
    }


def _remediation(name: str, template: str, *, kind: str = "WorkflowTemplate", **alert: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"templateRef": {"name": template, "kind": kind}}
    if alert:
        spec["alert"] = alert
    return {"apiVersion": API_VERSION, "kind": "Remediation", "metadata": {"name": name}, "spec": spec}


async def _phase(kube: KubeClient, name: str, namespace: str) -> str | None:
    got = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
    phase: str | None = (got.get("status") or {}).get("phase")
    return phase


async def test_suture_run_with_the_chart_identity_acts_only_in_watched_namespaces(
    namespaced_install: Installed, kube: KubeClient, three_namespaces: tuple[str, str, str], tmp_path: Path
) -> None:
    watched_a, watched_b, unwatched = three_namespaces
    cluster_template = f"scale-anywhere-{uuid.uuid4().hex[:6]}"
    for ns in (watched_a, unwatched):
        await kube.create("Deployment", deployment("web", 1), ns)
        await kube.create(
            "WorkflowTemplate",
            _scale_template("scale-web", {"kind": "Deployment", "name": "web"}),
            ns,
            api_version=API_VERSION,
        )
    # A cluster template follows the alert's namespace label: here it points at the unwatched namespace.
    target = {"kind": "Deployment", "namespace": "${{ alert.labels.namespace }}", "name": "web"}
    anywhere = _scale_template(cluster_template, target, kind="ClusterWorkflowTemplate")
    anywhere["spec"]["allowedRemediationNamespaces"] = [watched_a]
    await kube.create("ClusterWorkflowTemplate", anywhere, api_version=API_VERSION)
    # The unwatched namespace's Remediation goes first: if the operator saw it, it would run first.
    await kube.create("Remediation", _remediation("r1", "scale-web"), unwatched, api_version=API_VERSION)
    operator = OperatorProcess(
        namespaced_install.kubeconfig,
        tmp_path,
        [watched_a, watched_b],
        SUTURE_HOME_NAMESPACE=namespaced_install.namespace,
    )
    await operator.start()
    try:
        await kube.create("Remediation", _remediation("r1", "scale-web"), watched_a, api_version=API_VERSION)
        escape = _remediation(
            "escape", cluster_template, kind="ClusterWorkflowTemplate", labels={"namespace": unwatched}
        )
        await kube.create("Remediation", escape, watched_a, api_version=API_VERSION)

        async def done(name: str) -> str | None:
            phase = await _phase(kube, name, watched_a)
            return phase if phase in ("Succeeded", "Verifying", "Failed", "RolledBack", "Refused") else None

        phase = await wait_for(lambda: done("r1"), timeout=60, what="the watched namespace's run")
        assert phase in ("Succeeded", "Verifying"), operator.output()[-3000:]
        assert (await kube.get("Deployment", "web", watched_a))["spec"]["replicas"] == 3

        # The operator tries (it runs Remediations of watched namespaces) and the API server refuses it.
        denied = f'cannot get resource "deployments" in API group "apps" in the namespace "{unwatched}"'

        async def refused() -> bool:
            return denied in operator.output()

        await wait_for(refused, timeout=60, what="the 403 on the run aimed at the unwatched namespace")
        assert await _phase(kube, "escape", watched_a) not in ("Succeeded", "Verifying")

        # Nothing happened in the unwatched namespace: neither its own Remediation nor the escape.
        assert (await kube.get("Deployment", "web", unwatched))["spec"]["replicas"] == 1
        assert await _phase(kube, "r1", unwatched) is None
    finally:
        await operator.kill(signal.SIGTERM)
        await kube.delete("ClusterWorkflowTemplate", cluster_template, api_version=API_VERSION)
