"""Third-party CRDs for the action tests: the vendored snapshot and CloudNativePG ones, and two small stand-ins.

The snapshot and CloudNativePG CRDs are the projects' own (tests/fixtures/crds,
source and version in SOURCES.md). External Secrets' and cert-manager's
CRDs are not vendored: their modules are large and their actions use two
fields each (an ExternalSecret's ``spec.target.name`` and ``force-sync``
annotation, a Certificate's ``spec.secretName`` and status conditions), so
they are served by minimal CRDs of the same group, version, kind and plural,
with a status subresource, and any field accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.kube import ApiError, KubeClient
from tests.conftest import wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "crds"


def _stand_in(group: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


async def install(kube: KubeClient, crds: list[dict[str, Any]]) -> None:
    """Create the CRDs that are missing and wait until every one is Established."""
    for crd in crds:
        if await kube.get_or_none("CustomResourceDefinition", crd["metadata"]["name"]) is None:
            await kube.create("CustomResourceDefinition", crd)

    async def established() -> bool:
        for crd in crds:
            got = await kube.get("CustomResourceDefinition", crd["metadata"]["name"])
            conditions = (got.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    await wait_for(established, what="third-party CRDs established")

    async def serving() -> bool:
        # Established is not the end: a new kind answers 429 "storage is (re)initializing" for a moment.
        for crd in crds:
            spec = crd["spec"]
            version = next(v["name"] for v in spec["versions"] if v.get("served"))
            try:
                await kube.request("GET", f"/apis/{spec['group']}/{version}/{spec['names']['plural']}")
            except ApiError:
                return False
        return True

    await wait_for(serving, what="third-party kinds served")


def vendored(*names: str) -> list[dict[str, Any]]:
    return [doc for name in names for doc in yaml.safe_load_all((FIXTURES / name).read_text()) if doc]


@pytest.fixture(scope="session")
async def snapshot_crds(kube: KubeClient) -> None:
    await install(
        kube,
        vendored(
            "snapshot.storage.k8s.io_volumesnapshots.yaml",
            "snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
            "snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
        ),
    )


@pytest.fixture(scope="session")
async def cnpg_crd(kube: KubeClient) -> None:
    await install(kube, vendored("postgresql.cnpg.io_clusters.yaml"))


@pytest.fixture(scope="session")
async def secret_owner_crds(kube: KubeClient) -> None:
    await install(
        kube,
        [
            _stand_in("external-secrets.io", "ExternalSecret", "externalsecrets"),
            _stand_in("cert-manager.io", "Certificate", "certificates"),
        ],
    )
