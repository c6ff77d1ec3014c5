"""The ksm stand-in exports kube-state-metrics' names and labels for what the API server shows."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from suture.demo.ksm import Snapshot, StateCollector

POD: dict[str, Any] = {
    "metadata": {
        "namespace": "shop",
        "name": "cart-5d9f-abcde",
        "uid": "u1",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "cart-5d9f", "controller": True}],
    },
    "status": {
        "containerStatuses": [
            {
                "name": "app",
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            },
            {"name": "sidecar", "restartCount": 0, "state": {"running": {}}},
        ]
    },
}
BARE_POD: dict[str, Any] = {"metadata": {"namespace": "shop", "name": "bare", "uid": "u2"}, "status": {}}
REPLICASET = {
    "metadata": {
        "namespace": "shop",
        "name": "cart-5d9f",
        "ownerReferences": [{"kind": "Deployment", "name": "cart", "controller": True}],
    }
}
DEPLOYMENT = {
    "metadata": {"namespace": "shop", "name": "cart"},
    "spec": {"replicas": 2},
    "status": {"availableReplicas": 1, "updatedReplicas": 2},
}
NODE = {
    "metadata": {"name": "node-1"},
    "spec": {"unschedulable": True},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "True"}]},
}


def _exposition(snapshot: Snapshot) -> set[str]:
    collector = StateCollector()
    collector.snapshot = snapshot
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return {line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")}


def test_pod_series_carry_ksm_names_and_labels() -> None:
    lines = _exposition(Snapshot(pods=[POD, BARE_POD]))
    labels = 'container="app",namespace="shop",pod="cart-5d9f-abcde",uid="u1"'
    assert f"kube_pod_container_status_restarts_total{{{labels}}} 3.0" in lines
    pod = 'container="app",namespace="shop",pod="cart-5d9f-abcde"'
    assert f'kube_pod_container_status_waiting_reason{{{pod},reason="CrashLoopBackOff",uid="u1"}} 1.0' in lines
    assert f'kube_pod_container_status_last_terminated_reason{{{pod},reason="OOMKilled",uid="u1"}} 1.0' in lines
    assert (
        'kube_pod_owner{namespace="shop",owner_is_controller="true",owner_kind="ReplicaSet",'
        'owner_name="cart-5d9f",pod="cart-5d9f-abcde",uid="u1"} 1.0'
    ) in lines
    assert (
        'kube_pod_owner{namespace="shop",owner_is_controller="<none>",owner_kind="<none>",'
        'owner_name="<none>",pod="bare",uid="u2"} 1.0'
    ) in lines
    # A running container has no waiting series and no terminated one (as ksm v2).
    assert not any('container="sidecar"' in line and "reason" in line for line in lines)


def test_workload_and_node_series() -> None:
    lines = _exposition(Snapshot(replicasets=[REPLICASET], deployments=[DEPLOYMENT], nodes=[NODE]))
    assert (
        'kube_replicaset_owner{namespace="shop",owner_is_controller="true",owner_kind="Deployment",'
        'owner_name="cart",replicaset="cart-5d9f"} 1.0'
    ) in lines
    assert 'kube_deployment_spec_replicas{deployment="cart",namespace="shop"} 2.0' in lines
    assert 'kube_deployment_status_replicas_available{deployment="cart",namespace="shop"} 1.0' in lines
    assert 'kube_deployment_status_replicas_updated{deployment="cart",namespace="shop"} 2.0' in lines
    assert 'kube_node_status_condition{condition="MemoryPressure",node="node-1",status="true"} 1.0' in lines
    assert 'kube_node_status_condition{condition="MemoryPressure",node="node-1",status="false"} 0.0' in lines
    assert 'kube_node_status_condition{condition="Ready",node="node-1",status="unknown"} 0.0' in lines
    assert 'kube_node_spec_unschedulable{node="node-1"} 1.0' in lines
