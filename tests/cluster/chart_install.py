"""Installing the chart with helm and acting as its ServiceAccount (a TokenRequest token): the RBAC is the chart's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from suture.kube import KubeClient
from tests.chart.helm import CHART, helm
from tests.cluster.identity import token_kubeconfig


@dataclass(frozen=True)
class Installed:
    """A release of the chart and a kubeconfig that authenticates as its ServiceAccount."""

    release: str
    namespace: str
    service_account: str
    kubeconfig: str


@asynccontextmanager
async def installed_chart(
    kube: KubeClient, admin_kubeconfig: str, tmp_path: Path, *sets: str, chart: Path = CHART
) -> AsyncIterator[Installed]:
    """`helm install` into a fresh namespace; uninstalled and the namespace deleted afterwards."""
    suffix = uuid.uuid4().hex[:6]
    release, namespace = f"inst-{suffix}", f"suture-{suffix}"
    # The approval policy has a fixed name that the cluster tests install from crds/ without Helm.
    args = ["-n", namespace, "--create-namespace", "--wait=false", "--set", "admissionPolicy.enabled=false"]
    for s in sets:
        args += ["--set", s]
    helm("install", release, str(chart), *args, kubeconfig=admin_kubeconfig)
    try:
        sa = f"{release}-suture"
        config = await token_kubeconfig(kube, admin_kubeconfig, namespace, sa, tmp_path / f"{sa}.kubeconfig")
        yield Installed(release, namespace, sa, config)
    finally:
        helm("uninstall", release, "-n", namespace, check=False, kubeconfig=admin_kubeconfig)
        await kube.delete("Namespace", namespace)
