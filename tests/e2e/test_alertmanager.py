"""Real Alertmanager (Debian's 0.25 and the newest, 0.34) -> `suture run` -> Remediation -> actions on the cluster.

Two Alertmanagers (no gossip, as an HA pair that cannot see each other) send
every notification to the same receiver; the test shows one Remediation per
alert occurrence, the template's action applied, the resolution recorded, and
that an API server the operator cannot reach gets a 503 that Alertmanager
retries until the alert is stored.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.api import API_VERSION, AlertmanagerPayload
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for
from tests.e2e.processes import (
    VERSIONS,
    Alertmanager,
    CuttableLink,
    WebhookTap,
    alertmanager_binary,
    api_address,
    kubeconfig_through,
    rfc3339,
)


@pytest.fixture
async def link(kubeconfig: str) -> AsyncIterator[CuttableLink]:
    host, port = api_address(kubeconfig)
    relay = CuttableLink(host, port)
    await relay.restore()
    try:
        yield relay
    finally:
        if relay._server is not None:
            await relay.cut()


@pytest.fixture
async def operator_proc(
    kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str], link: CuttableLink
) -> AsyncIterator[OperatorProcess]:
    proxied = kubeconfig_through(kubeconfig, link, tmp_path / "kubeconfig-via-link")
    proc = OperatorProcess(proxied, tmp_path, namespace, SUTURE_HOME_NAMESPACE=namespace)
    await proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


@pytest.fixture(params=VERSIONS)
def am_version(request: pytest.FixtureRequest) -> str:
    """Every e2e test runs against Debian's Alertmanager and the newest one."""
    version: str = request.param
    return version


@pytest.fixture
async def tap(operator_proc: OperatorProcess) -> AsyncIterator[WebhookTap]:
    relay = WebhookTap(f"http://127.0.0.1:{operator_proc.port}/webhook/alertmanager")
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@pytest.fixture
async def alertmanagers(
    tmp_path: Path, operator_proc: OperatorProcess, am_version: str, tap: WebhookTap
) -> AsyncIterator[list[Alertmanager]]:
    binary = alertmanager_binary(am_version)
    pair = []
    for index in range(2):
        workdir = tmp_path / f"am{index}"
        workdir.mkdir()
        pair.append(Alertmanager(workdir, webhook_url=tap.url, token_file=operator_proc.token_file, binary=binary))
    try:
        for am in pair:
            await am.start()
        yield pair
    finally:
        for am in pair:
            await am.stop()


async def _get(url: str) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return r.status, await r.text()
    except aiohttp.ClientError as exc:
        return 0, str(exc)


def _sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in exposition.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _scale_template(kube: KubeClient, namespace: str, replicas: int) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "scale-web"},
        "spec": {
            "match": {"alertNames": ["WebOverloaded"]},
            "target": {"kind": "Deployment", "name": "web"},
            "steps": [{"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": replicas}}}],
        },
    }
    await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)

    async def valid() -> bool:
        got = await kube.get("WorkflowTemplate", "scale-web", namespace, api_version=API_VERSION)
        return any(c["type"] == "Valid" and c["status"] == "True" for c in got.get("status", {}).get("conditions", []))

    await wait_for(valid, timeout=60, what="the operator to mark scale-web Valid")


async def _ready(operator_proc: OperatorProcess) -> None:
    async def ready() -> bool:
        status, _ = await _get(f"http://127.0.0.1:{operator_proc.port}/readyz")
        return status == 200

    await wait_for(ready, timeout=60, what=f"/readyz (log: {operator_proc.log})")


def _alert(namespace: str, starts_at: datetime, ends_at: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "WebOverloaded", "namespace": namespace, "deployment": "web", "severity": "warning"},
        "annotations": {"summary": "web is overloaded"},
        "startsAt": rfc3339(starts_at),
    }
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


async def _remediations(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return await kube.list("Remediation", namespace, api_version=API_VERSION)


async def test_repeated_alerts_from_two_alertmanagers_make_one_remediation_that_runs_and_records_resolution(
    kube: KubeClient,
    namespace: str,
    operator_proc: OperatorProcess,
    alertmanagers: list[Alertmanager],
    tap: WebhookTap,
    am_version: str,
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    await _scale_template(kube, namespace, replicas=3)
    await _ready(operator_proc)
    started = datetime.now(UTC) - timedelta(seconds=30)
    for _ in range(3):  # Prometheus re-sends a firing alert every evaluation; send it to both, three times
        for am in alertmanagers:
            await am.post_alerts([_alert(namespace, started)])

    async def succeeded() -> dict[str, Any] | None:
        # The steps done, the run waits in Verifying for the alert to resolve (the template's verify window).
        items = await _remediations(kube, namespace)
        done = [r for r in items if (r.get("status") or {}).get("phase") == "Verifying"]
        return done[0] if done else None

    rem = await wait_for(succeeded, timeout=60, what=f"a Verifying Remediation (log: {operator_proc.log})")
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3
    assert rem["spec"]["templateRef"]["name"] == "scale-web"
    assert rem["spec"]["alert"]["labels"]["alertname"] == "WebOverloaded"
    assert rem["status"]["recommendation"]["template"] == "scale-web"
    assert rem["spec"]["target"]["kind"] == "Deployment"

    metrics_url = f"http://127.0.0.1:{operator_proc.port}/metrics"

    async def both_delivered() -> bool:
        _, text = await _get(metrics_url)
        received = sum(
            _sample(text, "suture_alerts_received_total", status="firing", outcome=o) for o in ("created", "existing")
        )
        return received >= 2

    await wait_for(both_delivered, timeout=30, what="both Alertmanagers' notifications at the receiver")
    _, text = await _get(metrics_url)
    assert _sample(text, "suture_alerts_received_total", status="firing", outcome="created") == 1
    assert len(await _remediations(kube, namespace)) == 1, "one alert occurrence, one Remediation"

    ended = datetime.now(UTC)
    for am in alertmanagers:
        await am.post_alerts([_alert(namespace, started, ended)])

    async def resolution_recorded() -> str | None:
        got = await kube.get("Remediation", rem["metadata"]["name"], namespace, api_version=API_VERSION)
        resolved: str | None = ((got.get("status") or {}).get("alert") or {}).get("resolvedAt")
        return resolved

    resolved_at = await wait_for(resolution_recorded, timeout=30, what="the resolved notification to be recorded")
    assert resolved_at == ended.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(await _remediations(kube, namespace)) == 1

    async def verified() -> dict[str, Any] | None:
        got = await kube.get("Remediation", rem["metadata"]["name"], namespace, api_version=API_VERSION)
        return got if (got.get("status") or {}).get("phase") == "Succeeded" else None

    done = await wait_for(verified, timeout=30, what="the verification to decide")
    assert done["status"]["verification"]["outcome"] == "Effective"
    _check_payload_fields(tap, am_version)


def _check_payload_fields(tap: WebhookTap, am_version: str) -> None:
    """Every notification was answered 200; 0.34's extra fields arrived, were accepted and are kept by the model."""
    assert tap.seen, "no notification went through the tap"
    assert {status for _, status in tap.seen} == {200}, [status for _, status in tap.seen]
    newest = am_version != "0.25-debian"
    reasons = {body.get("notification_reason") for body, _ in tap.seen}
    if newest:
        assert {"first notification", "all alerts resolved"} <= reasons, reasons
        for body, _ in tap.seen:
            assert "routeLabels" in body, sorted(body)
            kept = AlertmanagerPayload.model_validate_json(json.dumps(body)).model_dump(mode="json")  # as the receiver
            assert kept["notification_reason"] == body["notification_reason"]
            assert kept["routeLabels"] == body["routeLabels"]
    else:
        assert reasons == {None}, "Debian's 0.25 sends no notification_reason"


async def test_an_unreachable_api_server_gets_503_and_alertmanagers_retry_delivers_the_alert(
    kube: KubeClient,
    namespace: str,
    operator_proc: OperatorProcess,
    alertmanagers: list[Alertmanager],
    link: CuttableLink,
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    await _scale_template(kube, namespace, replicas=4)
    await _ready(operator_proc)
    await link.cut()
    am = alertmanagers[0]
    await am.post_alerts([_alert(namespace, datetime.now(UTC) - timedelta(seconds=5))])

    async def refused_with_503() -> bool:
        _, text = await _get(f"http://127.0.0.1:{operator_proc.port}/metrics")
        return _sample(text, "suture_webhook_request_duration_seconds_count", code="503") >= 1

    await wait_for(refused_with_503, timeout=30, what="the receiver to answer 503")

    async def not_ready() -> str | None:  # a successful API probe is trusted for a second
        status, body = await _get(f"http://127.0.0.1:{operator_proc.port}/readyz")
        return body if status == 503 else None

    assert "API server does not answer" in await wait_for(not_ready, timeout=10, what="/readyz to fail")
    assert await _remediations(kube, namespace) == []

    await link.restore()

    async def stored() -> list[dict[str, Any]]:
        return await _remediations(kube, namespace)

    (rem,) = await wait_for(stored, timeout=60, what=f"Alertmanager's retry to be stored (log: {am.log})")
    assert rem["spec"]["alert"]["labels"]["alertname"] == "WebOverloaded"

    async def scaled() -> bool:
        return bool((await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 4)

    await wait_for(scaled, timeout=60, what="the run after the API server came back")
