"""The template's verify.promql inside the real `suture run`, against a real Prometheus (Debian's) scraping a
loopback exporter whose series the test sets; and the template's Failing condition and metric on the real API
server when its runs keep being Ineffective."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_receiver import _post, _ready
from tests.cluster.test_verification_cluster import _in_phase, _post_resolved
from tests.conftest import deployment, free_port, wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SERVICE = 'we"b'  # an alert label value with a quote: it must reach PromQL as an escaped matcher
TEMPLATE = "fix-web-errors"


class Exporter:
    """A loopback /metrics with one gauge per service, set by the test."""

    def __init__(self) -> None:
        self.ratio = 0.5
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def metrics(_: web.Request) -> web.Response:
            label = SERVICE.replace("\\", "\\\\").replace('"', '\\"')
            text = f'# TYPE web_error_ratio gauge\nweb_error_ratio{{service="{label}"}} {self.ratio}\n'
            return web.Response(text=text, content_type="text/plain")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _query(url: str, query: str) -> list[Any]:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/api/v1/query", params={"query": query}) as response,
        ):
            answer = await response.json(content_type=None) if response.status == 200 else None
    except aiohttp.ClientError:
        return []
    return list(answer["data"]["result"]) if answer else []


@pytest.fixture
async def exporter() -> AsyncIterator[Exporter]:
    exp = Exporter()
    await exp.start()
    yield exp
    await exp.stop()


@pytest.fixture
async def prometheus(exporter: Exporter, tmp_path: Path) -> AsyncIterator[str]:
    """Debian's Prometheus on loopback, scraping the exporter every second."""
    home = tmp_path / "prometheus"
    home.mkdir()
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "web", "static_configs": [{"targets": [exporter.url]}]}],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=(home / "prometheus.log").open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        async def scraped() -> bool:
            return bool(await _query(url, "web_error_ratio"))

        await wait_for(scraped, timeout=60, what="Prometheus to scrape the exporter")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


def _alert(namespace: str, fingerprint: str, target: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "WebErrors", "namespace": namespace, "service": SERVICE, "deployment": target},
        "annotations": {},
        "startsAt": "2026-11-29T06:00:00Z",
        "endsAt": "2026-11-29T06:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


async def _setup(kube: KubeClient, namespace: str) -> None:
    for i in range(3):
        await kube.create("Deployment", deployment(f"web-{i}", 1), namespace)
    body = {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": TEMPLATE},
        "spec": {
            "match": {"alertNames": ["WebErrors"]},
            "target": {"kind": "Deployment", "name": "${{ alert.labels.deployment }}"},
            "steps": [{"name": "look", "wait": {"duration": "1s"}}],
            "verify": {
                "alertResolvedWithin": "15s",  # room for a loaded machine to post the resolution in time
                "promql": {
                    "query": "max(web_error_ratio{$matchers})",
                    "matchers": [{"label": "service", "value": "${{ alert.labels.service }}"}],
                    "operator": "<",
                    "threshold": 0.05,
                },
            },
            "safety": {"cooldown": "0s"},
        },
    }
    await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)


async def _template(kube: KubeClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = await kube.get("WorkflowTemplate", TEMPLATE, namespace, api_version=API_VERSION)
    return found


def _condition(template: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (template.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


async def _failing_metric(proc: OperatorProcess, namespace: str) -> float | None:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{proc.port}/metrics") as response:
        text = await response.text()
    labels = f'namespace="{namespace}",template="{TEMPLATE}"'
    found = re.search(rf"^suture_template_failing{{{labels}}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.fixture
async def operator(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str], prometheus: str
) -> AsyncIterator[OperatorProcess]:
    await _setup(kube, namespace)
    proc = OperatorProcess(
        kubeconfig,
        tmp_path,
        namespace,
        SUTURE_HOME_NAMESPACE=namespace,
        SUTURE_VERIFY_INTERVAL="1",
        SUTURE_PROMETHEUS_URL=prometheus,
    )
    await proc.start()
    try:
        await _ready(proc)

        async def valid() -> bool:
            return (_condition(await _template(kube, namespace), "Valid") or {}).get("status") == "True"

        await wait_for(valid, timeout=60, what=f"{TEMPLATE} to be Valid")
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


async def _remediate(proc: OperatorProcess, kube: KubeClient, namespace: str, fingerprint: str, target: str) -> str:
    """Alert, run to Verifying, resolved notification; the Remediation's name."""
    status, summary = await _post(proc, [_alert(namespace, fingerprint, target)])
    assert status == 200, summary
    (name,) = summary["created"]
    await wait_for(_in_phase(kube, namespace, name, "Verifying"), timeout=60, what=proc.output()[-2000:])
    assert await _post_resolved(proc, _alert(namespace, fingerprint, target, status="resolved")) == 200
    return name


async def test_resolved_alerts_whose_promql_check_fails_are_ineffective_until_the_template_is_failing_then_it_recovers(
    operator: OperatorProcess, kube: KubeClient, namespace: str, exporter: Exporter
) -> None:
    exporter.ratio = 0.5  # the alert resolves, but the error ratio the template promises to fix stays high
    names = [await _remediate(operator, kube, namespace, f"f{i}", f"web-{i}") for i in range(3)]
    for name in names:
        done = await wait_for(_in_phase(kube, namespace, name, "Succeeded"), timeout=60, what="the verification")
        verification = done["status"]["verification"]
        assert verification["outcome"] == "Ineffective", verification
        assert "verify.promql did not hold by the end of the window" in verification["message"]
        # The untrusted label value reached Prometheus as one escaped matcher (the message shows the query's
        # repr, hence the doubled backslash) and selected the exporter's series: its value came back.
        assert 'max(web_error_ratio{service="we\\\\"b"})' in verification["message"]
        assert "0.5 is not < 0.05" in verification["message"]

    async def failing() -> dict[str, Any] | None:
        template = await _template(kube, namespace)
        condition = _condition(template, "Failing")
        return template if condition and condition["status"] == "True" else None

    template = await wait_for(failing, timeout=30, what="the Failing condition")
    condition = _condition(template, "Failing")
    assert condition is not None
    assert condition["reason"] == "KeepsFailing"
    assert "the last 3 decided runs were Ineffective" in condition["message"]
    valid = _condition(template, "Valid") or {}
    assert valid.get("status") == "True"  # kept beside it
    assert valid.get("message") == "the template is valid"  # no "needs a Prometheus" warning: the operator has one
    assert (template["status"]["stats"]["runs"], template["status"]["stats"]["effectiveness"]) == (3, 0.0)
    assert await _failing_metric(operator, namespace) == 1.0

    exporter.ratio = 0.01  # now the fix works: the check holds once the alert resolves
    name = await _remediate(operator, kube, namespace, "f3", "web-0")
    done = await wait_for(_in_phase(kube, namespace, name, "Succeeded"), timeout=60, what="the verification")
    verification = done["status"]["verification"]
    assert verification["outcome"] == "Effective", verification
    assert "0.01 < 0.05" in verification["message"]

    async def recovered() -> dict[str, Any] | None:
        template = await _template(kube, namespace)
        return template if (_condition(template, "Failing") or {}).get("status") == "False" else None

    template = await wait_for(recovered, timeout=30, what="Failing to turn False")
    assert (_condition(template, "Failing") or {}).get("reason") == "NotFailing"
    assert await _failing_metric(operator, namespace) == 0.0
