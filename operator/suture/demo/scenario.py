"""The demo's faults and its live view: inject a fault, watch the loop close, report what was learned.

Each fault is a real kwok Stage on the local control plane (hack/kwok/stages):
a rollout to ``nginx:bad`` crash-loops, a memory limit below 64Mi is
OOM-killed over and over, a node labelled ``demo/node-fault`` reports the
pressure condition. Nothing here talks to Suture or Alertmanager: the alerts
come from Prometheus' rules over the ksm stand-in, exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from suture.api import API_VERSION
from suture.approvals import answer_approval
from suture.kube import ApiError, KubeClient

NODE_FAULT_LABEL = "demo/node-fault"
Printer = Callable[[str], None]


def deployment(name: str, *, replicas: int = 2, image: str = "nginx:1.27", memory: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if memory is not None:
        container["resources"] = {"limits": {"memory": memory}, "requests": {"memory": memory}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 30,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def load_templates(paths: Iterable[Path], *, namespace: str | None = None) -> list[dict[str, Any]]:
    """Template documents from YAML files; namespaced ones moved to ``namespace`` when given."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and namespace is not None and doc["kind"] == "WorkflowTemplate":
                doc["metadata"]["namespace"] = namespace
            if doc:
                docs.append(doc)
    return docs


async def wait_until(probe: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = await probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


async def available(kube: KubeClient, namespace: str, name: str) -> bool:
    dep = await kube.get("Deployment", name, namespace)
    status = dep.get("status") or {}
    want = (dep.get("spec") or {}).get("replicas", 1)
    return bool(
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("availableReplicas") == want
    )


async def deploy(kube: KubeClient, namespace: str, body: Mapping[str, Any], *, wait: bool = True) -> None:
    await kube.create("Deployment", body, namespace)
    name = body["metadata"]["name"]
    if wait:
        await wait_until(lambda: available(kube, namespace, name), timeout=90, what=f"{namespace}/{name} available")


async def bad_rollout(kube: KubeClient, namespace: str, name: str) -> None:
    """Roll ``name`` out to ``nginx:bad``: the new pod crash-loops (kwok Stage suture-pod-crashloop-start)."""
    dep = await kube.get("Deployment", name, namespace)
    containers = dep["spec"]["template"]["spec"]["containers"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": containers[0]["name"], "image": "nginx:bad"}]}}}}
    await kube.patch("Deployment", name, patch, namespace, patch_type="strategic")


async def node_pressure(kube: KubeClient, node: str, condition: str = "MemoryPressure") -> None:
    """The node reports ``condition`` (kwok Stage suture-node-fault)."""
    await kube.patch("Node", node, {"metadata": {"labels": {NODE_FAULT_LABEL: condition}}})


async def heal_nodes(kube: KubeClient) -> None:
    """Every node healthy and schedulable again (a previous demo may have left one cordoned under pressure)."""
    for node in await kube.list("Node"):
        labels = node["metadata"].get("labels") or {}
        if NODE_FAULT_LABEL in labels or (node.get("spec") or {}).get("unschedulable"):
            patch = {"metadata": {"labels": {NODE_FAULT_LABEL: None}}, "spec": {"unschedulable": None}}
            await kube.patch("Node", node["metadata"]["name"], patch)


# -- the live view -------------------------------------------------------------------------------


def _labels_text(labels: Mapping[str, str], keys: Iterable[str]) -> str:
    return " ".join(f"{k}={labels[k]}" for k in keys if k in labels)


@dataclass
class Watch:
    """Polls Prometheus' alerts and the Remediations; prints every change as it happens.

    Approvals are answered (approved) as the on-call person would, when
    ``approve`` is set: the demo runs unattended.
    """

    kube: KubeClient
    namespaces: tuple[str, ...]
    prometheus_url: str
    say: Printer
    approve: bool = True
    remediations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _seen: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    _alerts: dict[tuple[tuple[str, str], ...], str] = field(default_factory=dict)
    _approved: set[tuple[str, str]] = field(default_factory=set)

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                await self.poll(http)
                await asyncio.sleep(0.5)

    async def poll(self, http: aiohttp.ClientSession) -> None:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            await self._poll_prometheus(http)
        for namespace in self.namespaces:
            try:
                items = await self.kube.list("Remediation", namespace, api_version=API_VERSION)
            except ApiError:
                continue
            for item in items:
                await self._show(item)

    async def _poll_prometheus(self, http: aiohttp.ClientSession) -> None:
        async with http.get(f"{self.prometheus_url}/api/v1/alerts", timeout=aiohttp.ClientTimeout(total=3)) as r:
            alerts = (await r.json())["data"]["alerts"]
        now: dict[tuple[tuple[str, str], ...], str] = {}
        for alert in alerts:
            key = tuple(sorted(alert["labels"].items()))
            now[key] = alert["state"]
        for key, state in now.items():
            if self._alerts.get(key) != state:
                labels = dict(key)
                what = _labels_text(labels, ("namespace", "deployment", "pod", "node", "condition"))
                self.say(f"Prometheus  {labels.get('alertname')} {state}  ({what})")
        for key in self._alerts.keys() - now.keys():
            labels = dict(key)
            what = _labels_text(labels, ("namespace", "deployment", "pod", "node", "condition"))
            self.say(f"Prometheus  {labels.get('alertname')} resolved  ({what})")
        self._alerts = now

    async def _show(self, item: dict[str, Any]) -> None:
        meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
        key = (meta["namespace"], meta["name"])
        self.remediations[key] = item
        short = f"{meta['namespace']}/{meta['name'][:40]}"
        recommendation = status.get("recommendation") or {}
        steps = tuple((s.get("name"), s.get("phase")) for s in status.get("steps") or [])
        verification = status.get("verification") or {}
        state = (bool(recommendation), status.get("phase"), steps, verification.get("outcome"))
        before = self._seen.get(key)
        if before == state:
            return
        self._seen[key] = state
        if before is None:
            alert = spec.get("alert") or {}
            what = _labels_text(alert.get("labels") or {}, ("namespace", "deployment", "pod", "node"))
            self.say(f"Suture      new Remediation {short} for {alert.get('name')} ({what})")
        if recommendation and not (before and before[0]):
            alternatives = ", ".join(
                f"{a['template']} {a['score']:.2f}" for a in recommendation.get("alternatives") or []
            )
            self.say(
                f"Suture      ranked {recommendation['template']} first (score {recommendation['score']:.2f})"
                + (f"; then {alternatives}" if alternatives else "")
            )
            for reason in recommendation.get("reasons") or []:
                self.say(f"              why: {reason}")
        old_steps = dict(before[2]) if before else {}
        for name, phase in steps:
            if old_steps.get(name) != phase and phase not in (None, "Pending"):
                self.say(f"Suture      {short} step {name}: {phase}")
        if (before is None or before[1] != status.get("phase")) and status.get("phase"):
            self.say(f"Suture      {short} phase {status['phase']}: {status.get('message', '')[:110]}")
        outcome = verification.get("outcome")
        if outcome in ("Effective", "Ineffective", "Unknown") and (before is None or before[3] != outcome):
            took = verification.get("timeToResolveSeconds")
            after = f", {took:.0f}s after the run" if isinstance(took, int | float) else ""
            self.say(f"Suture      {short} verified {outcome}{after}: {verification.get('message', '')}")
        if status.get("phase") == "WaitingApproval" and self.approve and key not in self._approved:
            self._approved.add(key)
            self.say(f"on-call     approves {short} (suture approve {meta['name']} -n {meta['namespace']})")
            await answer_approval(
                self.kube, namespace=meta["namespace"], name=meta["name"], decision="Approved", reason="demo"
            )

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for item in self.remediations.values():
            if predicate(item):
                return item
        return None

    async def outcome(
        self, alertname: str, *, where: Callable[[Mapping[str, str]], bool], timeout: float
    ) -> dict[str, Any]:
        """Wait until the Remediation of ``alertname`` whose alert labels satisfy ``where`` has an outcome."""

        def decided(item: dict[str, Any]) -> bool:
            alert = (item.get("spec") or {}).get("alert") or {}
            outcome = ((item.get("status") or {}).get("verification") or {}).get("outcome")
            return bool(
                alert.get("name") == alertname
                and where(alert.get("labels") or {})
                and outcome in ("Effective", "Ineffective", "Unknown")
            )

        async def probe() -> dict[str, Any] | None:
            return self.find(decided)

        found: dict[str, Any] = await wait_until(probe, timeout=timeout, what=f"the outcome of {alertname}")
        return found


def outcome_of(item: Mapping[str, Any]) -> str:
    return str(((item.get("status") or {}).get("verification") or {}).get("outcome", ""))


def template_of(item: Mapping[str, Any]) -> str:
    return str(((item.get("spec") or {}).get("templateRef") or {}).get("name", ""))


async def oom_learning(
    kube: KubeClient, namespace: str, watch: Watch, say: Printer, *, timeout: float = 300
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two OOM-killed Deployments, one after the other: the first teaches, the second benefits.

    ``cart`` gets the first-ranked template (restart the pods), which cannot
    help a limit that is too small: the alert keeps firing through the verify
    window, Ineffective. The on-call person then raises cart's limit by hand.
    ``checkout`` fails the same way; the ranking has learned, the memory
    template goes first and the alert resolves: Effective.
    """
    say(f"fault: Deployment {namespace}/cart with a 48Mi memory limit (kwok OOM-kills containers under 64Mi)")
    await deploy(kube, namespace, deployment("cart", memory="48Mi"), wait=False)
    first = await watch.outcome(
        "KubeContainerOOMKilled", where=lambda labels: labels.get("deployment") == "cart", timeout=timeout
    )
    say(f"cart: {template_of(first)} was {outcome_of(first)}; the on-call person raises cart's limit to 128Mi by hand")
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}}}
                    ]
                }
            }
        }
    }
    await kube.patch("Deployment", "cart", patch, namespace, patch_type="strategic")
    say(f"fault: Deployment {namespace}/checkout with a 48Mi memory limit: the same failure, a second time")
    await deploy(kube, namespace, deployment("checkout", memory="48Mi"), wait=False)
    second = await watch.outcome(
        "KubeContainerOOMKilled", where=lambda labels: labels.get("deployment") == "checkout", timeout=timeout
    )
    return first, second
