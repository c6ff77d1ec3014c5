"""query_prometheus against a real Prometheus (Debian's 2.42), query_alertmanager and silence_alert against a
real Alertmanager (Debian's 0.25): the URLs come from the operator's settings, alert label values only as
escaped matchers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from suture.actions import ActionContext, ActionError, ActionResult, load_registry
from tests.conftest import free_port, wait_for
from tests.e2e.processes import Alertmanager, rfc3339

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERT = {"alertname": "HighRequestLatency", "service": "checkout", "namespace": "shop"}


async def _get(url: str) -> Any:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.json(content_type=None) if response.status == 200 else None
    except aiohttp.ClientError:
        return None


@pytest.fixture(scope="module")
async def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Prometheus scraping itself every second (one for the module: it takes seconds to start)."""
    tmp_path = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=(tmp_path / "prometheus.log").open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        async def scraped() -> bool:
            answer = await _get(f'{url}/api/v1/query?query=up{{job="prometheus"}}')
            return bool(answer and answer["data"]["result"])

        await wait_for(scraped, timeout=60, what="Prometheus to scrape itself")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


@pytest.fixture
def prometheus(prometheus_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Prometheus, named in SUTURE_PROMETHEUS_URL as the operator's settings would."""
    monkeypatch.setenv("SUTURE_PROMETHEUS_URL", prometheus_server)
    return prometheus_server


@pytest.fixture
async def alertmanager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Alertmanager]:
    """Alertmanager holding one firing alert, its URL in SUTURE_ALERTMANAGER_URL."""
    token = tmp_path / "token"
    token.write_text("unused\n")
    am = Alertmanager(tmp_path, webhook_url="http://127.0.0.1:9/unused", token_file=token)
    await am.start()
    try:
        now = datetime.now(UTC)
        alert = {"labels": ALERT, "startsAt": rfc3339(now), "endsAt": rfc3339(now + timedelta(hours=1))}
        await am.post_alerts([alert])
        monkeypatch.setenv("SUTURE_ALERTMANAGER_URL", am.url)
        yield am
    finally:
        with contextlib.suppress(ProcessLookupError):
            await am.stop()


async def call(name: str, params: dict[str, Any], *, key: str = "", dry_run: bool = False) -> ActionResult:
    spec = load_registry().get(name)
    ctx = ActionContext(kube=None, dry_run=dry_run, idempotency_key=key, remediation="shop/latency-1")  # type: ignore[arg-type]
    return await spec.run(ctx, spec.params.model_validate(params))


async def undo(name: str, data: dict[str, Any]) -> ActionResult:
    spec = load_registry().get(name)
    assert spec.undo is not None
    return await spec.undo(ActionContext(kube=None), data)  # type: ignore[arg-type]


async def test_query_prometheus_answers_an_instant_query_with_the_alerts_labels_as_matchers(prometheus: str) -> None:
    out = await call(
        "query_prometheus", {"query": "up{$matchers}", "matchers": [{"label": "job", "value": "prometheus"}]}
    )
    assert out.output["value"] == 1.0
    assert out.output["query"] == 'up{job="prometheus"}'
    assert out.output["series"][0]["labels"]["job"] == "prometheus"
    assert out.changed is False


@pytest.mark.parametrize(
    "hostile",
    ['prometheus"} or vector(1) #', 'x", job=~".+', "prometheus\\", "a\nb", "${{ alert.labels.x }}"],
)
async def test_a_hostile_label_value_stays_one_string_in_prometheus(prometheus: str, hostile: str) -> None:
    out = await call("query_prometheus", {"query": "up{$matchers}", "matchers": [{"label": "job", "value": hostile}]})
    assert out.output["value"] is None  # Prometheus parsed it and found no job of that name
    assert out.output["seriesCount"] == 0


async def test_query_prometheus_range_query_returns_the_series_points(prometheus: str) -> None:
    params = {
        "query": 'up{job="prometheus",$matchers}',
        "matchers": [{"label": "instance", "op": "=~", "value": "127\\.0\\.0\\.1:.*"}],
        "range": {"duration": "30s", "step": "1s"},
    }
    out = await call("query_prometheus", params)
    assert out.output["resultType"] == "matrix"
    assert out.output["series"][0]["values"]
    assert out.output["value"] == 1.0


async def test_query_prometheus_refuses_a_query_prometheus_cannot_parse(prometheus: str) -> None:
    with pytest.raises(ActionError) as caught:
        await call("query_prometheus", {"query": "up{{"})
    assert caught.value.category.value == "invalid"


async def test_query_alertmanager_reads_the_alerts_state(alertmanager: Alertmanager) -> None:
    out = await call("query_alertmanager", {"labels": ALERT})
    assert out.output["state"] == "active"
    assert out.output["count"] == 1
    gone = await call("query_alertmanager", {"labels": {**ALERT, "service": 'checkout"} or x'}})
    assert gone.output["state"] == "resolved"


async def test_silence_alert_silences_it_once_per_call_and_undo_expires_the_silence(
    alertmanager: Alertmanager,
) -> None:
    made = await call("silence_alert", {"labels": ALERT, "duration": "30m"}, key="sut-key-1")
    silence = made.output["silenceId"]
    assert made.undo == {"silenceId": silence, "key": "sut-key-1"}

    async def silenced() -> Any:
        out = await call("query_alertmanager", {"labels": ALERT})
        return out if out.output["state"] == "suppressed" else None

    state = await wait_for(silenced, timeout=30, what="the alert to be silenced")
    assert state.output["silencedBy"] == [silence]
    again = await call("silence_alert", {"labels": ALERT, "duration": "30m"}, key="sut-key-1")  # a replay
    assert again.output["silenceId"] == silence
    silences = await _get(f"{alertmanager.url}/api/v2/silences")
    assert [s["id"] for s in silences if s["status"]["state"] == "active"] == [silence]
    assert (await undo("silence_alert", made.undo)).changed

    async def firing_again() -> Any:
        out = await call("query_alertmanager", {"labels": ALERT})
        return out if out.output["state"] == "active" else None

    await wait_for(firing_again, timeout=30, what="the silence to expire")
    assert (await undo("silence_alert", made.undo)).message.startswith("expired")  # twice: no error


async def test_silence_alert_under_dry_run_creates_nothing(alertmanager: Alertmanager) -> None:
    out = await call("silence_alert", {"labels": ALERT}, key="sut-key-2", dry_run=True)
    assert out.output["silence"]["matchers"][0] == {
        "name": "alertname",
        "value": "HighRequestLatency",
        "isRegex": False,
        "isEqual": True,
    }
    assert await _get(f"{alertmanager.url}/api/v2/silences") == []


async def test_expire_silence_ends_a_silence_by_id(alertmanager: Alertmanager) -> None:
    made = await call("silence_alert", {"labels": ALERT}, key="sut-key-3")
    out = await call("expire_silence", {"silenceId": made.output["silenceId"]})
    assert out.changed
    silences = await _get(f"{alertmanager.url}/api/v2/silences")
    assert [s["status"]["state"] for s in silences] == ["expired"]
