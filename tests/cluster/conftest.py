"""Every test in tests/cluster talks to a real API server."""

from __future__ import annotations

import pytest

from suture.crdgen import all_crds
from suture.kube import KubeClient
from tests.conftest import wait_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
async def suture_crds(kube: KubeClient) -> list[str]:
    """Suture's generated CRDs installed (created or replaced) and Established."""
    names = []
    for crd in all_crds().values():
        name = crd["metadata"]["name"]
        existing = await kube.get_or_none("CustomResourceDefinition", name)
        if existing is None:
            await kube.create("CustomResourceDefinition", crd)
        else:
            body = {**crd, "metadata": {**crd["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]}}
            await kube.replace("CustomResourceDefinition", name, body)
        names.append(name)

    async def established() -> bool:
        for name in names:
            got = await kube.get("CustomResourceDefinition", name)
            conditions = (got.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    await wait_for(established, what="Suture's CRDs to be established")
    return names
