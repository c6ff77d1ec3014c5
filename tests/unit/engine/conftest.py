"""Engine test fixtures: fake registry, SQLite checkpointer in a temp dir, recording sink, in-memory API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from suture.engine import Engine, RecordingSink, open_checkpointer
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.engine.fakes import Ledger, make_registry


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def api() -> FakeKubeApi:
    """The API server engines in these tests talk to (empty unless a test seeds it)."""
    return FakeKubeApi()


@pytest.fixture
async def make_engine(
    tmp_path: Path, ledger: Ledger, sink: RecordingSink, api: FakeKubeApi
) -> AsyncIterator[Callable[..., Engine]]:
    """Build engines sharing one checkpoint file (close them all at the end)."""
    async with open_checkpointer(location=str(tmp_path / "runs.sqlite")) as saver:
        engines: list[Engine] = []

        def build(**kwargs: Any) -> Engine:
            kwargs.setdefault("registry", make_registry(ledger))
            kwargs.setdefault("sink", sink)
            kwargs.setdefault("kube", api.client())
            engine = Engine(checkpointer=saver, **kwargs)
            engines.append(engine)
            return engine

        yield build
        for engine in engines:
            await engine.aclose()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()
