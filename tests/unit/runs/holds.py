"""Hold a run's task at one of the service's steps: the moment a control arrives while the task is ending."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from suture.runs import RemediationService
from tests.fakes.kubeapi import FakeKubeApi


class Hold:
    """``service.<method>`` waits at its start until :meth:`release`; ``reached`` is set when a task gets there."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, service: RemediationService, method: str) -> None:
        self.reached, self._go = asyncio.Event(), asyncio.Event()
        self._monkeypatch, self._service, self._method = monkeypatch, service, method
        self._original: Callable[..., Awaitable[Any]] = getattr(service, method)

        async def held(*args: Any) -> Any:
            self.reached.set()
            await self._go.wait()
            return await self._original(*args)

        monkeypatch.setattr(service, method, held)

    def release(self) -> None:
        """Let the held task go on, and every later call through unheld."""
        self._monkeypatch.setattr(self._service, self._method, self._original)
        self._go.set()


def phase_is(api: FakeKubeApi, phase: str, name: str = "crashloop-1") -> Callable[[], Awaitable[bool]]:
    """A :func:`tests.conftest.wait_for` probe: the stored Remediation is in ``phase``."""

    async def probe() -> bool:
        return (api.get("Remediation", name, "shop").get("status") or {}).get("phase") == phase

    return probe
