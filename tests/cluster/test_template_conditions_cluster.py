"""A template's condition writers on the real API server: a stale copy never drops another writer's condition,
and a write that lost the race to another one (409 on the resourceVersion) reads again and keeps both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient, connect, write_condition
from suture.validation import write_valid_condition

FAILING = {"type": "Failing", "status": "True", "reason": "KeepsFailing", "message": "the last 3 decided runs failed"}
VALID = {"type": "Valid", "status": "True", "reason": "Validated", "message": "ok"}


def _template(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "fix"},
        "spec": {"steps": [{"name": "wait", "wait": {"duration": f"{replicas}s"}}]},
    }


def _types(got: Mapping[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (got.get("status") or {}).get("conditions") or []}


@pytest.fixture
async def other(kubeconfig: str) -> AsyncIterator[KubeClient]:
    """A second client: the other writer."""
    client = await connect(kubeconfig)
    try:
        yield client
    finally:
        await client.close()


async def test_revalidating_from_a_stale_copy_keeps_failing(
    kube: KubeClient, namespace: str, suture_crds: list[str]
) -> None:
    stale = await kube.create("WorkflowTemplate", _template(1), namespace, api_version=API_VERSION)
    await write_valid_condition(kube, stale, registry=None)
    got = await kube.get("WorkflowTemplate", "fix", namespace, api_version=API_VERSION)
    conditions = [*got["status"]["conditions"], FAILING]
    await kube.patch(
        "WorkflowTemplate",
        "fix",
        {"status": {"conditions": conditions}},
        namespace,
        subresource="status",
        api_version=API_VERSION,
    )
    edited = await kube.patch(
        "WorkflowTemplate", "fix", {"spec": _template(2)["spec"]}, namespace, api_version=API_VERSION
    )
    valid = await write_valid_condition(kube, stale, registry=None)  # the copy from before both writes
    got = await kube.get("WorkflowTemplate", "fix", namespace, api_version=API_VERSION)
    assert _types(got) == {"Valid": "True", "Failing": "True"}
    assert (valid or {}).get("observedGeneration") == edited["metadata"]["generation"] == 2
    assert got["status"]["observedGeneration"] == 2


class RacedClient(KubeClient):
    """Reads the object, then lets ``other`` write its Failing condition before the caller writes."""

    def __init__(self, kube: KubeClient, other: KubeClient) -> None:
        super().__init__(kube.transport)
        self.other = other
        self.reads = 0

    async def get_or_none(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> Any:
        got = await super().get_or_none(kind, name, namespace, api_version=api_version)
        self.reads += 1
        if self.reads == 1:
            patch = {"status": {"conditions": [FAILING]}}
            await self.other.patch(kind, name, patch, namespace, subresource="status", api_version=api_version)
        return got


async def test_a_write_that_loses_the_race_reads_again_and_keeps_both(
    kube: KubeClient, other: KubeClient, namespace: str, suture_crds: list[str]
) -> None:
    await kube.create("WorkflowTemplate", _template(1), namespace, api_version=API_VERSION)
    raced = RacedClient(kube, other)
    written = await write_condition(
        raced, "WorkflowTemplate", "fix", namespace, api_version=API_VERSION, build=lambda _: (VALID, {})
    )
    assert (written or {}).get("type") == "Valid"
    assert raced.reads == 2  # the API server refused the first patch (409): read again
    got = await kube.get("WorkflowTemplate", "fix", namespace, api_version=API_VERSION)
    assert _types(got) == {"Failing": "True", "Valid": "True"}
