"""An in-memory API server, a client on it, and the engine's fake action registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from suture.actions import Registry
from suture.kube import KubeClient
from suture.store import History
from tests.fakes.history import sqlite_history
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.engine.fakes import Ledger, make_registry


@pytest.fixture
def api() -> FakeKubeApi:
    return FakeKubeApi()


@pytest.fixture
def kube(api: FakeKubeApi) -> KubeClient:
    return api.client()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def registry(ledger: Ledger) -> Registry:
    return make_registry(ledger)


@pytest.fixture
async def history() -> AsyncIterator[History]:
    """An empty SQL history (what cooldowns and hourly budgets count)."""
    async with sqlite_history() as opened:
        yield opened
