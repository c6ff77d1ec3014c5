"""Every test in tests/cluster talks to a real API server."""

from __future__ import annotations

import pytest
import yaml

from suture.api import API_VERSION
from suture.crdgen import all_crds, all_manifests
from suture.kube import ApiError, KubeClient
from tests.conftest import wait_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
async def suture_crds(kube: KubeClient) -> list[str]:
    """Everything `make crds` generates (CRDs and the approval-stamp policy), created or replaced.

    Returns the CRD names once they are Established.
    """
    return await install_crds(kube)


async def install_crds(kube: KubeClient) -> list[str]:
    """What :func:`suture_crds` does, on any cluster (a test's own control plane too)."""
    for text in all_manifests().values():
        for doc in yaml.safe_load_all(text):
            name = doc["metadata"]["name"]
            existing = await kube.get_or_none(doc["kind"], name, api_version=doc["apiVersion"])
            if existing is None:
                await kube.create(doc["kind"], doc, api_version=doc["apiVersion"])
            else:
                rv = existing["metadata"]["resourceVersion"]
                body = {**doc, "metadata": {**doc["metadata"], "resourceVersion": rv}}
                await kube.replace(doc["kind"], name, body, api_version=doc["apiVersion"])
    names = list(crd["metadata"]["name"] for crd in all_crds().values())

    async def established() -> bool:
        for name in names:
            got = await kube.get("CustomResourceDefinition", name)
            conditions = (got.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    await wait_for(established, what="Suture's CRDs to be established")

    # Established is not the end: admission (the approval-stamp policy) answers 503 for a
    # new kind until its informers catch up. A server-side dry-run create proves the whole path.
    probe = {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": "readiness-probe"},
        "spec": {"templateRef": {"name": "none"}, "approval": {"decision": "Approved"}},
    }

    async def admitted() -> bool:
        try:
            await kube.create("Remediation", probe, "default", api_version=API_VERSION, dry_run=True)
        except ApiError as exc:
            if exc.status == 503:
                return False
            raise
        return True

    await wait_for(admitted, timeout=60, what="Remediations to be admitted")
    return names
