"""Verification and learning inside the real `suture run`: alerts through the receiver, outcomes decided
from the resolved notification or Alertmanager's API, also across a SIGKILL."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from suture.api import API_VERSION
from suture.kube import KubeClient
from suture.store import History as SqlHistory
from suture.store import open_database
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_receiver import _post, _ready
from tests.conftest import deployment, wait_for

STARTS = "2026-11-29T06:00:00Z"


def _alert(namespace: str, fingerprint: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "WebSlow", "namespace": namespace, "service": 'we"b'},
        "annotations": {},
        "startsAt": STARTS,
        "endsAt": "2026-11-29T06:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


async def _post_resolved(proc: OperatorProcess, alert: dict[str, Any]) -> int:
    body = {"version": "4", "status": "resolved", "receiver": "suture", "groupKey": "{}", "alerts": [alert]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{proc.port}/webhook/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {proc.token}"},
        ) as response,
    ):
        return response.status


async def _setup(kube: KubeClient, namespace: str, window: str) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "fix-web"},
        "spec": {
            "match": {"alertNames": ["WebSlow"]},
            "target": {"kind": "Deployment", "name": "web"},
            "steps": [{"name": "look", "wait": {"duration": "1s"}}],
            "verify": {"alertResolvedWithin": window},
            # A second alert on web follows the first within minutes; the receiver would suppress it in
            # the default 10m cooldown, and these tests are about verification and ranking.
            "safety": {"cooldown": "0s"},
        },
    }
    await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)


class History:
    """The operator's SQL history, read beside it like ``suture history`` does."""

    def __init__(self, data_dir: Path) -> None:
        self.location = str(data_dir / "suture.sqlite")

    async def run_of(self, run_id: str) -> dict[str, Any]:
        async with open_database(location=self.location) as engine:
            found = await SqlHistory(engine).run(run_id)
        assert found is not None
        return found


async def _valid(kube: KubeClient, namespace: str) -> None:
    async def valid() -> bool:
        got = await kube.get("WorkflowTemplate", "fix-web", namespace, api_version=API_VERSION)
        return any(c["type"] == "Valid" and c["status"] == "True" for c in got.get("status", {}).get("conditions", []))

    await wait_for(valid, timeout=60, what="fix-web to be Valid")


def _in_phase(kube: KubeClient, namespace: str, name: str, phase: str) -> Any:
    async def probe() -> Any:
        got = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
        return got if (got.get("status") or {}).get("phase") == phase else None

    return probe


@pytest.fixture
async def start_operator(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> AsyncIterator[Any]:
    procs: list[OperatorProcess] = []

    async def start(**env: str) -> OperatorProcess:
        proc = OperatorProcess(
            kubeconfig, tmp_path, namespace, SUTURE_HOME_NAMESPACE=namespace, SUTURE_VERIFY_INTERVAL="1", **env
        )
        await proc.start()
        procs.append(proc)
        await _ready(proc)
        await _valid(kube, namespace)
        return proc

    yield start
    for proc in procs:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


async def test_a_resolved_alert_is_effective_and_the_next_similar_alert_ranks_the_template_higher(
    start_operator: Any, kube: KubeClient, namespace: str
) -> None:
    await _setup(kube, namespace, "5m")
    proc = await start_operator()
    status, summary = await _post(proc, [_alert(namespace, "f1")])
    assert status == 200, summary
    (first,) = summary["created"]
    verifying = await wait_for(_in_phase(kube, namespace, first, "Verifying"), timeout=60, what=proc.output()[-2000:])
    assert verifying["status"]["verification"]["deadline"]
    score_before = verifying["status"]["recommendation"]["score"]

    assert await _post_resolved(proc, _alert(namespace, "f1", status="resolved")) == 200
    done = await wait_for(_in_phase(kube, namespace, first, "Succeeded"), timeout=30, what="the verification")
    assert done["status"]["verification"]["outcome"] == "Effective", done["status"]
    assert done["status"]["verification"]["timeToResolveSeconds"] >= 0

    async def stats_written() -> Any:
        got = await kube.get("WorkflowTemplate", "fix-web", namespace, api_version=API_VERSION)
        return got if ((got.get("status") or {}).get("stats") or {}).get("lastOutcome") else None

    # The template's stats are written right after the outcome, by the same operator: poll, don't race.
    fix_web = await wait_for(stats_written, timeout=30, what="the template's stats")
    assert fix_web["status"]["stats"]["lastOutcome"] == "Effective"
    assert fix_web["status"]["stats"]["effectiveness"] == 1.0
    # The run and its step are in the SQL history that suture stats and history read (SQLite beside the operator).
    history = await History(proc.data_dir).run_of(verifying["metadata"]["uid"])
    assert history["phase"] == "Succeeded"
    assert history["outcome"]["outcome"] == "Effective"
    assert [(s["step"], s["action"], s["phase"]) for s in history["steps"]] == [("look", "wait", "Succeeded")]

    status, summary = await _post(proc, [{**_alert(namespace, "f2"), "startsAt": "2026-11-29T07:00:00Z"}])
    (second,) = summary["created"]
    again = await kube.get("Remediation", second, namespace, api_version=API_VERSION)
    assert again["status"]["recommendation"]["score"] > score_before


async def test_still_firing_after_the_window_is_ineffective_even_across_a_sigkill_while_verifying(
    start_operator: Any, kube: KubeClient, namespace: str
) -> None:
    asked: list[list[str]] = []

    async def alerts(request: web.Request) -> web.Response:
        asked.append(request.query.getall("filter", []))
        return web.json_response([{"fingerprint": "f9", "status": {"state": "active"}}])

    app = web.Application()
    app.router.add_get("/api/v2/alerts", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await _setup(kube, namespace, "8s")
        proc = await start_operator(SUTURE_ALERTMANAGER_URL=f"http://127.0.0.1:{port}")
        _, summary = await _post(proc, [_alert(namespace, "f9")])
        (name,) = summary["created"]
        await wait_for(_in_phase(kube, namespace, name, "Verifying"), timeout=60, what="Verifying")
        await proc.kill(signal.SIGKILL)
        restarted = await start_operator(SUTURE_ALERTMANAGER_URL=f"http://127.0.0.1:{port}")
        done = await wait_for(
            _in_phase(kube, namespace, name, "Succeeded"), timeout=60, what=restarted.output()[-2000:]
        )
        assert done["status"]["verification"]["outcome"] == "Ineffective", done["status"]
        assert 'alertname="WebSlow"' in asked[-1]
        assert 'service="we\\"b"' in asked[-1]  # the untrusted label value, escaped as a matcher
    finally:
        await runner.cleanup()
