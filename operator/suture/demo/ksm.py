"""A kube-state-metrics stand-in: the few series the demo's alerting rules read, with ksm's names and labels.

kube-state-metrics cannot be built on these machines, and kwok runs no kubelet.
This exporter lists Pods, ReplicaSets, Deployments and Nodes from the API
server every ``interval`` seconds and serves, at ``/metrics``, the series below
exactly as kube-state-metrics v2 names and labels them (so kube-prometheus'
rules apply unchanged); Prometheus adds ``job="kube-state-metrics"``.

- ``kube_pod_container_status_restarts_total{namespace,pod,uid,container}``
- ``kube_pod_container_status_waiting_reason{namespace,pod,uid,container,reason}`` (only while waiting, as ksm v2)
- ``kube_pod_container_status_last_terminated_reason{namespace,pod,uid,container,reason}``
- ``kube_pod_owner{namespace,pod,uid,owner_kind,owner_name,owner_is_controller}``
- ``kube_replicaset_owner{namespace,replicaset,owner_kind,owner_name,owner_is_controller}``
- ``kube_deployment_spec_replicas``, ``kube_deployment_status_replicas_available``,
  ``kube_deployment_status_replicas_updated`` ``{namespace,deployment}``
- ``kube_node_status_condition{node,condition,status}`` (status true/false/unknown, one of them 1)
- ``kube_node_spec_unschedulable{node}``

Run: ``python -m suture.demo.ksm --kubeconfig PATH --port 18081`` (loopback only).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from suture.kube import KubeClient, connect

logger = logging.getLogger("suture.demo.ksm")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Snapshot:
    """The objects of the last successful listing."""

    pods: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)


def _meta(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))


def _owners(obj: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, name, is_controller) per owner reference; ksm reports ``<none>`` when there is none."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    if not refs:
        return [("<none>", "<none>", "<none>")]
    return [(str(r.get("kind", "")), str(r.get("name", "")), str(bool(r.get("controller"))).lower()) for r in refs]


def pod_metrics(pods: Iterable[Mapping[str, Any]]) -> list[Metric]:
    restarts = CounterMetricFamily(
        "kube_pod_container_status_restarts",
        "The number of container restarts per container.",
        labels=["namespace", "pod", "uid", "container"],
    )
    waiting = GaugeMetricFamily(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state.",
        labels=["namespace", "pod", "uid", "container", "reason"],
    )
    terminated = GaugeMetricFamily(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state.",
        labels=["namespace", "pod", "uid", "container", "reason"],
    )
    owner = GaugeMetricFamily(
        "kube_pod_owner",
        "Information about the Pod's owner.",
        labels=["namespace", "pod", "uid", "owner_kind", "owner_name", "owner_is_controller"],
    )
    for pod in pods:
        namespace, name, uid = _meta(pod)
        for kind, owner_name, controller in _owners(pod):
            owner.add_metric([namespace, name, uid, kind, owner_name, controller], 1)
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            container = str(status.get("name", ""))
            labels = [namespace, name, uid, container]
            restarts.add_metric(labels, float(status.get("restartCount", 0)))
            reason = ((status.get("state") or {}).get("waiting") or {}).get("reason")
            if reason:
                waiting.add_metric([*labels, str(reason)], 1)
            last = ((status.get("lastState") or {}).get("terminated") or {}).get("reason")
            if last:
                terminated.add_metric([*labels, str(last)], 1)
    return [restarts, waiting, terminated, owner]


def workload_metrics(
    replicasets: Iterable[Mapping[str, Any]], deployments: Iterable[Mapping[str, Any]]
) -> list[Metric]:
    rs_owner = GaugeMetricFamily(
        "kube_replicaset_owner",
        "Information about the ReplicaSet's owner.",
        labels=["namespace", "replicaset", "owner_kind", "owner_name", "owner_is_controller"],
    )
    for rs in replicasets:
        namespace, name, _ = _meta(rs)
        for kind, owner_name, controller in _owners(rs):
            rs_owner.add_metric([namespace, name, kind, owner_name, controller], 1)
    spec = GaugeMetricFamily(
        "kube_deployment_spec_replicas", "Number of desired pods for a deployment.", labels=["namespace", "deployment"]
    )
    available = GaugeMetricFamily(
        "kube_deployment_status_replicas_available",
        "The number of available replicas per deployment.",
        labels=["namespace", "deployment"],
    )
    updated = GaugeMetricFamily(
        "kube_deployment_status_replicas_updated",
        "The number of updated replicas per deployment.",
        labels=["namespace", "deployment"],
    )
    for deployment in deployments:
        namespace, name, _ = _meta(deployment)
        status = deployment.get("status") or {}
        spec.add_metric([namespace, name], float((deployment.get("spec") or {}).get("replicas", 1)))
        available.add_metric([namespace, name], float(status.get("availableReplicas", 0)))
        updated.add_metric([namespace, name], float(status.get("updatedReplicas", 0)))
    return [rs_owner, spec, available, updated]


def node_metrics(nodes: Iterable[Mapping[str, Any]]) -> list[Metric]:
    condition = GaugeMetricFamily(
        "kube_node_status_condition",
        "The condition of a cluster node.",
        labels=["node", "condition", "status"],
    )
    unschedulable = GaugeMetricFamily(
        "kube_node_spec_unschedulable",
        "Whether a node can schedule new pods.",
        labels=["node"],
    )
    for node in nodes:
        _, name, _ = _meta(node)
        unschedulable.add_metric([name], 1.0 if (node.get("spec") or {}).get("unschedulable") else 0.0)
        for cond in (node.get("status") or {}).get("conditions") or []:
            value = str(cond.get("status", "Unknown")).lower()
            for status in ("true", "false", "unknown"):
                condition.add_metric([name, str(cond.get("type", "")), status], 1.0 if value == status else 0.0)
    return [condition, unschedulable]


class StateCollector(Collector):
    """Turns the latest :class:`Snapshot` into metric families at scrape time."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        yield from pod_metrics(snap.pods)
        yield from workload_metrics(snap.replicasets, snap.deployments)
        yield from node_metrics(snap.nodes)


async def refresh(kube: KubeClient, collector: StateCollector) -> None:
    """One listing of everything the series need; the snapshot changes only when every list succeeded."""
    pods, replicasets, deployments, nodes = await asyncio.gather(
        kube.list("Pod"), kube.list("ReplicaSet"), kube.list("Deployment"), kube.list("Node")
    )
    collector.snapshot = Snapshot(pods=pods, replicasets=replicasets, deployments=deployments, nodes=nodes)


async def poll(kube: KubeClient, collector: StateCollector, interval: float) -> None:
    """Keep the snapshot current; an API error keeps the last one (as ksm's informers keep their cache)."""
    while True:
        try:
            await refresh(kube, collector)
        except Exception as exc:  # the API server restarting must not stop the exporter
            logger.warning("listing failed, serving the last snapshot: %s", exc)
        await asyncio.sleep(interval)


def app_for(collector: StateCollector) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(kubeconfig: str | None, address: str, port: int, interval: float) -> None:
    kube = await connect(kubeconfig)
    collector = StateCollector()
    await refresh(kube, collector)  # the first scrape already sees the cluster
    runner = web.AppRunner(app_for(collector), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, address, port).start()
    logger.info("kube-state-metrics stand-in on http://%s:%s/metrics", address, port)
    try:
        await poll(kube, collector, interval)
    finally:
        await runner.cleanup()
        await kube.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m suture.demo.ksm", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig of the cluster (default: $KUBECONFIG)")
    parser.add_argument("--listen-address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between listings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.kubeconfig, args.listen_address, args.port, args.interval))


if __name__ == "__main__":
    main()
