"""A step of an async action never leaves the event loop: no worker-thread hop per step.

LangGraph runs a synchronous node or path function in the loop's executor. On
a quiet machine such a hop per step cost about 0.2 ms; on a loaded one the
woken thread waits for a core as well. This pins that the graph's own
functions are async.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from suture.engine import Engine, RecordingSink, RunRequest
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.engine.fakes import Ledger, make_registry, rec, template


async def test_a_run_of_async_actions_never_uses_the_executor(
    ledger: Ledger, api: FakeKubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(
        registry=make_registry(ledger), kube=api.client(), checkpointer=InMemorySaver(), sink=RecordingSink()
    )
    spec = template(rec("one"), rec("two"), rec("three"))
    # Warm up first: the first run imports the graph runtime in a worker thread, by design.
    warm = await engine.start(request=RunRequest(run_id="warm", template=spec))
    assert warm.phase == "Succeeded", warm.message
    loop = asyncio.get_running_loop()
    hops: list[Any] = []
    original = loop.run_in_executor

    def counting(executor: Any, func: Any, *args: Any) -> Any:
        hops.append(func)
        return original(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counting)
    try:
        out = await engine.start(request=RunRequest(run_id="r1", template=spec))
    finally:
        monkeypatch.undo()
        await engine.aclose()
    assert out.phase == "Succeeded", out.message
    assert ledger.done()[-3:] == ["one", "two", "three"]
    assert hops == [], f"{len(hops)} executor hop(s) in a 3-step run: {hops[:3]}"
