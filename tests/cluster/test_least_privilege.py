"""The operator works with exactly the RBAC `suture rbac` generates, and no more.

It runs as a ServiceAccount (a real token from the TokenRequest API) bound only
to the generated ClusterRole, and carries out a Remediation whose steps use
several actions: if any action declared less RBAC than it uses, the run fails.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suture.actions import load_registry
from suture.api import API_VERSION
from suture.kube import ApiError, KubeClient, connect
from suture.rbac import cluster_role, cluster_role_binding
from tests.cluster.identity import service_account_kubeconfig
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for

ACTIONS = [
    "collect_diagnostics",
    "scale_deployment",
    "wait_for_rollout",
    "annotate",
    "restart_workload",
    "delete_failed_pods",
]


@pytest.fixture
async def least_privilege(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """(kubeconfig of the ServiceAccount, the ClusterRole name) with the generated grant in place."""
    suffix = uuid.uuid4().hex[:6]
    role = cluster_role(load_registry(), actions=ACTIONS)
    binding = cluster_role_binding(namespace=namespace, service_account="suture")
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = f"suture-test-{suffix}"
    await kube.create("ClusterRole", role)
    await kube.create("ClusterRoleBinding", binding)
    try:
        yield (
            await service_account_kubeconfig(kube, kubeconfig, namespace, "suture", tmp_path / "sa.kubeconfig"),
            suffix,
        )
    finally:
        await kube.delete("ClusterRoleBinding", binding["metadata"]["name"])
        await kube.delete("ClusterRole", role["metadata"]["name"])


async def test_operator_runs_with_the_generated_role_only(
    least_privilege: tuple[str, str], kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    sa_kubeconfig, _ = least_privilege
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps: list[dict[str, Any]] = [
        {"name": "collect", "action": {"name": "collect_diagnostics", "params": {"kind": "Deployment"}}},
        {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {"name": "settle", "action": {"name": "wait_for_rollout", "params": {"timeout": "1m"}}},
        {
            "name": "mark",
            "action": {
                "name": "annotate",
                "params": {"kind": "Deployment", "annotations": {"suture.dev/touched": "yes"}},
            },
        },
        {"name": "restart", "action": {"name": "restart_workload", "params": {"kind": "Deployment"}}},
        {"name": "clean", "action": {"name": "delete_failed_pods", "params": {}}},
    ]
    template = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "busy"},
        "spec": {"target": {"kind": "Deployment", "name": "web"}, "steps": steps},
    }
    await kube.create("WorkflowTemplate", template, namespace, api_version=API_VERSION)
    operator = OperatorProcess(sa_kubeconfig, tmp_path, namespace)
    await operator.start()
    try:
        await kube.create(
            "Remediation",
            {
                "apiVersion": API_VERSION,
                "kind": "Remediation",
                "metadata": {"name": "r1"},
                "spec": {"templateRef": {"name": "busy"}},
            },
            namespace,
            api_version=API_VERSION,
        )

        async def finished() -> Any:
            got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
            return got if (got.get("status") or {}).get("phase") in ("Succeeded", "Failed", "RolledBack") else None

        done = await wait_for(finished, timeout=60, what="the run to finish")
        assert done["status"]["phase"] == "Succeeded", (done["status"], operator.output()[-3000:])
        web = await kube.get("Deployment", "web", namespace)
        assert web["spec"]["replicas"] == 3
        assert web["metadata"]["annotations"]["suture.dev/touched"] == "yes"
        assert "kubectl.kubernetes.io/restartedAt" in web["spec"]["template"]["metadata"]["annotations"]
        assert "Forbidden" not in operator.output()
    finally:
        await operator.kill(signal.SIGTERM)


async def test_the_generated_role_cannot_read_secrets(least_privilege: tuple[str, str], namespace: str) -> None:
    sa_kubeconfig, _ = least_privilege
    async with await connect(sa_kubeconfig) as as_operator:
        with pytest.raises(ApiError) as denied:
            await as_operator.list("Secret", namespace, api_version="v1")
        assert denied.value.status == 403
        with pytest.raises(ApiError) as denied:
            await as_operator.delete("Deployment", "anything", namespace)
        assert denied.value.status == 403
