"""Acting as the operator's ServiceAccount, with a real token from the TokenRequest API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from suture.kube import KubeClient


def _write_token_kubeconfig(admin: str, token: str, path: Path) -> str:
    cluster = yaml.safe_load(Path(admin).read_text())["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "suture", "user": {"token": token}}],
        "contexts": [{"name": "suture", "context": {"cluster": cluster["name"], "user": "suture"}}],
        "current-context": "suture",
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


async def service_account_kubeconfig(kube: KubeClient, admin: str, namespace: str, name: str, path: Path) -> str:
    """Create ServiceAccount ``name`` in ``namespace``; write a kubeconfig that authenticates as it."""
    await kube.create(
        "ServiceAccount", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}, namespace
    )
    return await token_kubeconfig(kube, admin, namespace, name, path)


async def token_kubeconfig(kube: KubeClient, admin: str, namespace: str, name: str, path: Path) -> str:
    """Write a kubeconfig that authenticates as the existing ServiceAccount ``name`` (a TokenRequest token)."""
    review = await kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    return await asyncio.to_thread(_write_token_kubeconfig, admin, review["status"]["token"], path)
