"""The demo, shortened, as a test: nothing mocked between a Prometheus rule and a verified outcome.

The same code as `make demo` (suture.demo): the ksm stand-in watches the local
control plane, a real Prometheus 2.42 evaluates examples/demo/prometheus-rules.yaml,
a real Alertmanager 0.25 routes to `suture run`, which ranks, acts and verifies
through Alertmanager's API. kwok OOM-kills the containers of two Deployments
whose memory limit is too small, one after the other:

- cart: the first-ranked template (restart the pods) cannot fix a limit, the
  alert keeps firing through its verify window: Ineffective;
- checkout: the ranking learned; raising the memory limit goes first, the
  Deployment recovers, Prometheus resolves the alert: Effective.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.api import API_VERSION
from suture.demo.scenario import Watch, load_templates, oom_learning, outcome_of, template_of
from suture.demo.stack import REPO, Ports, Stack, stop
from suture.kube import KubeClient
from tests.conftest import free_port, wait_for

TEMPLATES = REPO / "examples" / "demo" / "templates"


@pytest.fixture
async def stack(kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str]) -> AsyncIterator[Stack]:
    ports = Ports(suture=free_port(), ksm=free_port(), prometheus=free_port(), alertmanager=free_port())
    running = Stack(
        state=tmp_path / "stack", kubeconfig=kubeconfig, ports=ports, namespaces=(namespace,), home_namespace=namespace
    )
    try:
        await asyncio.to_thread(running.start)
        yield running
    finally:
        await asyncio.to_thread(stop, running.state)


async def _install_templates(kube: KubeClient, namespace: str) -> None:
    for doc in load_templates(
        [TEMPLATES / "oom-restart-pods.yaml", TEMPLATES / "oom-raise-memory.yaml"], namespace=namespace
    ):
        await kube.create("WorkflowTemplate", doc, namespace, api_version=API_VERSION)

    async def valid() -> bool:
        items = await kube.list("WorkflowTemplate", namespace, api_version=API_VERSION)
        return len(items) == 2 and all(
            any(c["type"] == "Valid" and c["status"] == "True" for c in (i.get("status") or {}).get("conditions", []))
            for i in items
        )

    await wait_for(valid, timeout=60, what="both OOM templates Valid")


async def _prometheus_alerts(stack: Stack) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{stack.prometheus_url}/api/v1/alerts") as r:
        alerts: list[dict[str, Any]] = (await r.json())["data"]["alerts"]
        return alerts


async def test_an_ineffective_fix_is_learned_and_the_next_occurrence_is_fixed_and_resolved_by_prometheus(
    kube: KubeClient, namespace: str, stack: Stack
) -> None:
    await _install_templates(kube, namespace)
    lines: list[str] = []
    watch = Watch(kube, (namespace,), stack.prometheus_url, lines.append)
    watcher = asyncio.create_task(watch.run())
    try:
        first, second = await oom_learning(kube, namespace, watch, lines.append, timeout=150)
    except TimeoutError as exc:
        raise AssertionError(
            f"{exc}; does the cluster have hack/kwok/stages' OOM Stage for memory limits below 64Mi "
            f"(created before it: recreate it)? Seen:\n" + "\n".join(lines) + f"\nSuture log: {stack.log('suture')}"
        ) from exc
    finally:
        watcher.cancel()

    shown = "\n".join(lines)
    # The alert came from Prometheus' rule, through Alertmanager, to a Remediation.
    assert "Prometheus  KubeContainerOOMKilled firing  (namespace=" + namespace + " deployment=cart)" in shown
    assert first["spec"]["alert"]["labels"] == {
        "alertname": "KubeContainerOOMKilled",
        "namespace": namespace,
        "deployment": "cart",
        "container": "app",
        "severity": "warning",
    }
    # Before any outcome: the higher-priority restart first; it cannot help a limit: Ineffective.
    assert template_of(first) == "oom-restart-pods"
    assert [a["template"] for a in first["status"]["recommendation"]["alternatives"]] == ["oom-raise-memory"]
    assert outcome_of(first) == "Ineffective"
    assert first["status"]["verification"]["message"] == "the alert was still firing when the verify window ended"

    # The same failure again: the ranking learned, and says why.
    assert template_of(second) == "oom-raise-memory"
    (alternative,) = second["status"]["recommendation"]["alternatives"]
    assert alternative["template"] == "oom-restart-pods"
    assert "Ineffective" in alternative["reason"]
    assert alternative["score"] < second["status"]["recommendation"]["score"]
    # It worked: the limit was doubled, Prometheus resolved the alert, Alertmanager said so.
    assert outcome_of(second) == "Effective"
    # A working fix shows within the window the restart was given: its Ineffective was not the window's doing.
    assert second["status"]["verification"]["timeToResolveSeconds"] < 60
    limits = (await kube.get("Deployment", "checkout", namespace))["spec"]["template"]["spec"]["containers"][0]
    assert limits["resources"]["limits"]["memory"] == "96Mi"
    assert "Prometheus  KubeContainerOOMKilled resolved  (namespace=" + namespace + " deployment=checkout)" in shown
    firing = [a for a in await _prometheus_alerts(stack) if a["labels"].get("deployment") == "checkout"]
    assert firing == []
