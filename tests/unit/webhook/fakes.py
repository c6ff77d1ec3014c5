"""The project's in-memory API server, with the switches the receiver's tests need.

The receiver gets a real :class:`~suture.kube.KubeClient` whose transport is
:class:`~tests.fakes.kubeapi.FakeKubeApi`, so the client's own error mapping
(no answer -> ApiUnavailable, 409, 404) is what the receiver meets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from suture.api import API_VERSION
from suture.kube import KubeClient, KubeRequest, KubeResponse
from tests.fakes.kubeapi import FakeKubeApi


class ReceiverApi:
    """A FakeKubeApi that can be made unreachable or slow, and lets concurrent requests interleave."""

    def __init__(self) -> None:
        self.api = FakeKubeApi()
        self.unreachable = False
        self.slow = 0.0
        self.api.before.append(self._gate)
        self.client: KubeClient = self.api.client()

    async def _gate(self, request: KubeRequest) -> KubeResponse | None:
        if self.slow:
            await asyncio.sleep(self.slow)
        if self.unreachable:
            raise ConnectionRefusedError("connection refused")
        await asyncio.sleep(0)  # interleave concurrent requests, as real I/O would
        return None

    def add(self, *objects: dict[str, Any]) -> list[dict[str, Any]]:
        """Objects that exist before the test (uid, resourceVersion assigned)."""
        return self.api.add(*objects)

    def remediations(self) -> list[dict[str, Any]]:
        """Every stored Remediation."""
        return self.api.objects("Remediation", api_version=API_VERSION)

    @property
    def creates(self) -> int:
        """Remediations created (persisted POSTs)."""
        return len([w for w in self.api.writes(kind="Remediation", persisted=True) if w.method == "POST"])

    def persisted_writes(self) -> int:
        """Every write that changed stored state."""
        return len(self.api.writes(persisted=True))

    async def set_phase(self, name: str, namespace: str, phase: str) -> None:
        """What the operator would write when a run ends."""
        await self.client.patch(
            "Remediation", name, {"status": {"phase": phase}}, namespace, subresource="status", api_version=API_VERSION
        )
