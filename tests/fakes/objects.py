"""Small builders of the objects unit tests seed into the in-memory API server."""

from __future__ import annotations

from typing import Any

from suture.api import API_VERSION


def owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with ``owner`` as its controller (owner must already carry a uid)."""
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    obj["metadata"].setdefault("ownerReferences", []).append(ref)
    return obj


def deployment(name: str = "web", namespace: str = "shop", replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": replicas},
    }


def replicaset(name: str = "web-5d8f7c9b4", namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": namespace}}


def pod(name: str = "web-5d8f7c9b4-abcde", namespace: str = "shop", node: str | None = "n1") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
        "spec": spec,
        "status": {"phase": "Running"},
    }


def node(name: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def seed_pod_chain(api: Any, namespace: str = "shop") -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A Deployment, its ReplicaSet and one scheduled Pod, linked by controller references; stored copies."""
    (dep,) = api.add(deployment(namespace=namespace))
    (rs,) = api.add(owned_by(replicaset(namespace=namespace), dep))
    p, _ = api.add(owned_by(pod(namespace=namespace), rs), node())
    return dep, rs, p


def template(
    name: str = "restart",
    *,
    namespace: str | None = "shop",
    target: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A WorkflowTemplate (or, with ``namespace=None``, a ClusterWorkflowTemplate) of fake ``record`` steps."""
    spec: dict[str, Any] = {
        "steps": steps or [{"name": "one", "action": {"name": "record", "params": {"name": "one"}}}],
    }
    if target is not None:
        spec["target"] = target
    if safety is not None:
        spec["safety"] = safety
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    kind = "WorkflowTemplate" if namespace else "ClusterWorkflowTemplate"
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def remediation(
    name: str = "crashloop-1",
    *,
    namespace: str = "shop",
    template: str = "restart",
    template_kind: str = "WorkflowTemplate",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Remediation of ``template`` for a KubePodCrashLooping alert with ``labels``."""
    alert_labels = {"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": "web-5d8f7c9b4-abcde"}
    return {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "templateRef": {"name": template, "kind": template_kind},
            "alert": {"name": "KubePodCrashLooping", "labels": {**alert_labels, **(labels or {})}},
            **spec,
        },
    }
