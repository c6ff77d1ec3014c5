"""An in-memory API server, a client on it, and the engine's fake action registry."""

from __future__ import annotations

import pytest

from suture.actions import Registry
from suture.kube import KubeClient
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
