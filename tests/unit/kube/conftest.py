"""An in-memory API server and a real KubeClient on top of it."""

from __future__ import annotations

import pytest

from suture.kube import KubeClient
from tests.fakes.kubeapi import FakeKubeApi


@pytest.fixture
def api() -> FakeKubeApi:
    return FakeKubeApi()


@pytest.fixture
def kube(api: FakeKubeApi) -> KubeClient:
    return api.client()
