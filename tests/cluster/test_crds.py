"""Suture's CRDs on a real API server: accepted, enforcing their rules, round-tripping examples losslessly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.api import ClusterWorkflowTemplate, Remediation, WorkflowTemplate, to_k8s
from suture.kube import ApiError, KubeClient
from suture.kube.resources import resource_info
from tests.conftest import kubectl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
MODELS = {
    "WorkflowTemplate": WorkflowTemplate,
    "ClusterWorkflowTemplate": ClusterWorkflowTemplate,
    "Remediation": Remediation,
}


def _examples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


async def _create(kube: KubeClient, doc: dict[str, Any], namespace: str) -> Any:
    info = resource_info(doc["kind"], doc["apiVersion"])
    return await kube.request("POST", info.collection_path(namespace if info.namespaced else None), body=doc)


async def _delete(kube: KubeClient, doc: dict[str, Any], namespace: str) -> None:
    info = resource_info(doc["kind"], doc["apiVersion"])
    ns = namespace if info.namespaced else None
    await kube.delete(doc["kind"], doc["metadata"]["name"], ns, api_version=doc["apiVersion"])


@pytest.mark.parametrize("doc", _examples(), ids=lambda d: d["metadata"]["name"])
async def test_example_round_trips_losslessly(
    kube: KubeClient, namespace: str, suture_crds: list[str], doc: dict[str, Any]
) -> None:
    doc = copy.deepcopy(doc)
    doc["metadata"]["namespace"] = namespace
    # Cluster-scoped examples share one name space with whatever `kubectl apply -f examples/` put there.
    doc["metadata"]["name"] = f"{doc['metadata']['name']}-{namespace}"
    model = MODELS[doc["kind"]].model_validate(doc)
    sent = to_k8s(model)
    stored = await _create(kube, sent, namespace)
    try:
        back = MODELS[doc["kind"]].model_validate(stored)
        assert to_k8s(back)["spec"] == sent["spec"]
    finally:
        await _delete(kube, doc, namespace)


def _template(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "bad"},
        "spec": {"steps": steps},
    }


WAIT = {"wait": {"duration": "1s"}}
# (what, steps, message the API server must give)
REJECTED: list[tuple[str, list[dict[str, Any]], str]] = [
    ("duplicate names", [{"name": "a", **WAIT}, {"name": "a", **WAIT}], "step names must be unique"),
    ("dangling next", [{"name": "a", "next": "zzz", **WAIT}], "every step's next must name a step of this template"),
    (
        "dangling else",
        [{"name": "a", "condition": {"check": {"expression": "true"}, "else": "zzz"}}],
        "condition then/else must name a step of this template",
    ),
    (
        "dangling parallel",
        [{"name": "a", "parallel": {"steps": ["b", "zzz"]}}, {"name": "b", **WAIT}],
        "parallel steps and foreach step must name steps of this template",
    ),
    ("two kinds", [{"name": "a", "approval": {}, **WAIT}], "a step sets exactly one of action, condition"),
    ("no kind", [{"name": "a"}], "a step sets exactly one of action, condition"),
    ("negative retry", [{"name": "a", "retry": {"limit": -1}, **WAIT}], "spec.steps[0].retry.limit"),
    ("bad duration", [{"name": "a", "wait": {"duration": "soon"}}], "spec.steps[0].wait.duration"),
    (
        "wait with both",
        [{"name": "a", "wait": {"duration": "1s", "until": {"expression": "true"}}}],
        "set exactly one of duration or until",
    ),
    (
        "check with two kinds",
        [
            {
                "name": "a",
                "condition": {"check": {"expression": "true", "timeWindow": {"start": "08:00", "end": "09:00"}}},
            }
        ],
        "set exactly one of expression, resource, promql or timeWindow",
    ),
    (
        "waves short of 100",
        [
            {
                "name": "a",
                "rollout": {
                    "targets": {"kind": "Deployment", "selector": {}},
                    "waves": [10, 50],
                    "action": {"name": "scale_deployment"},
                },
            }
        ],
        "the last wave must be 100",
    ),
    ("reserved name", [{"name": "end", **WAIT}], "'end' is reserved"),
    (
        "step timeout beyond workflow",
        [{"name": "a", "timeout": "2h", **WAIT}],
        "a step's timeout must not be longer than timeouts.workflow",
    ),
    ("bad step name", [{"name": "Not_A_Name", **WAIT}], "spec.steps[0].name"),
]


@pytest.mark.parametrize(("what", "steps", "message"), REJECTED, ids=[r[0] for r in REJECTED])
async def test_api_server_rejects_invalid_template(
    kube: KubeClient, namespace: str, suture_crds: list[str], what: str, steps: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await _create(kube, _template(steps), namespace)
    assert caught.value.status == 422, what
    assert message in caught.value.message, f"{what}: {caught.value.message}"


async def test_kubectl_get_shows_remediation_columns(
    kube: KubeClient, kubeconfig: str, namespace: str, suture_crds: list[str]
) -> None:
    rem = {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "Remediation",
        "metadata": {"name": "r1"},
        "spec": {
            "templateRef": {"name": "pod-crashlooping"},
            "alert": {"name": "KubePodCrashLooping", "labels": {"alertname": "KubePodCrashLooping"}},
            "target": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": namespace, "name": "web"},
        },
    }
    await _create(kube, rem, namespace)
    await kube.patch(
        "Remediation",
        "r1",
        {
            "status": {
                "phase": "Succeeded",
                "target": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": namespace, "name": "web"},
                "verification": {"outcome": "Effective"},
            }
        },
        namespace,
        subresource="status",
        api_version="suture.dev/v1alpha1",
    )
    out = (await kubectl(kubeconfig, "get", "rem", "-n", namespace)).splitlines()
    assert out[0].split() == ["NAME", "ALERT", "TEMPLATE", "TARGET", "PHASE", "OUTCOME", "AGE"]
    assert out[1].split()[:6] == ["r1", "KubePodCrashLooping", "pod-crashlooping", "web", "Succeeded", "Effective"]
    # The category lets `kubectl get suture` list every Suture resource at once.
    listed = await kubectl(kubeconfig, "get", "suture", "-n", namespace, "-o", "name")
    assert "remediation.suture.dev/r1" in listed
