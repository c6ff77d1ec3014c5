"""End-to-end fixtures: the real control plane, a real Alertmanager, `suture run`, and a cuttable API link."""

from __future__ import annotations

import pytest

from tests.cluster.conftest import suture_crds

__all__ = ["suture_crds"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)
