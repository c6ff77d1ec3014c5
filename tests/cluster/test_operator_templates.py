"""The operator validates templates on the cluster and reports a Valid condition."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from suture.kube import KubeClient
from tests.conftest import free_port, wait_for

API = "suture.dev/v1alpha1"


@pytest.fixture
def operator(
    kubeconfig: str, monkeypatch: pytest.MonkeyPatch, suture_crds: list[str], tmp_path: Path
) -> Iterator[KopfRunner]:
    """The Suture operator running in this process against the test cluster."""
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    monkeypatch.setenv("SUTURE_DATA_DIR", str(tmp_path))
    # Its receiver listens on a free loopback port; no alert is sent here, so no credential is needed.
    monkeypatch.setenv("SUTURE_PORT", str(free_port()))
    monkeypatch.setenv("SUTURE_LISTEN_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("SUTURE_INSECURE_WEBHOOK", "1")
    with KopfRunner(["run", "-A", "--standalone", "-m", "suture.handlers"], timeout=60) as runner:
        yield runner
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


def _template(replicas: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "scale-up"},
        "spec": {
            "target": {"kind": "Deployment", "name": "web"},
            "steps": [{"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": replicas}}}],
        },
    }


async def _valid(kube: KubeClient, namespace: str, generation: int) -> dict[str, Any] | None:
    got = await kube.get("WorkflowTemplate", "scale-up", namespace, api_version=API)
    status = got.get("status") or {}
    if status.get("observedGeneration") != generation:
        return None
    return next((c for c in status.get("conditions") or [] if c["type"] == "Valid"), None)


async def test_invalid_then_fixed_template(operator: KopfRunner, kube: KubeClient, namespace: str) -> None:
    # replicas -3 passes the CRD schema (params are free-form) but not the action's parameter model.
    created = await kube.request("POST", f"/apis/{API}/namespaces/{namespace}/workflowtemplates", body=_template(-3))
    generation = created["metadata"]["generation"]
    cond = await wait_for(lambda: _valid(kube, namespace, generation), timeout=30, what="Valid condition")
    assert cond["status"] == "False"
    assert cond["reason"] == "Invalid"
    assert "spec.steps[0].action.params.replicas: must be >= 0" in cond["message"]

    fixed = await kube.patch(
        "WorkflowTemplate", "scale-up", {"spec": {"steps": _template(2)["spec"]["steps"]}}, namespace, api_version=API
    )
    cond = await wait_for(
        lambda: _valid(kube, namespace, fixed["metadata"]["generation"]),
        timeout=30,
        what="Valid condition after the fix",
    )
    assert cond["status"] == "True"
    assert cond["reason"] == "Validated"


FAILING = {"type": "Failing", "status": "True", "reason": "KeepsFailing", "message": "the last 3 decided runs failed"}


def _conditions(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (got.get("status") or {}).get("conditions") or []}


async def test_an_edited_template_keeps_its_failing_condition(
    operator: KopfRunner, kube: KubeClient, namespace: str
) -> None:
    created = await kube.create("WorkflowTemplate", {**_template(2)}, namespace, api_version=API)
    await wait_for(lambda: _valid(kube, namespace, created["metadata"]["generation"]), timeout=30, what="Valid")
    got = await kube.get("WorkflowTemplate", "scale-up", namespace, api_version=API)
    conditions = [*_conditions(got).values(), FAILING]  # what the verifier writes after three failed runs
    await kube.patch(
        "WorkflowTemplate",
        "scale-up",
        {"status": {"conditions": conditions}},
        namespace,
        subresource="status",
        api_version=API,
    )
    steps = {"spec": {"steps": _template(3)["spec"]["steps"]}}  # an edit of the spec: validated again
    edited = await kube.patch("WorkflowTemplate", "scale-up", steps, namespace, api_version=API)
    await wait_for(lambda: _valid(kube, namespace, edited["metadata"]["generation"]), timeout=30, what="revalidated")
    got = await kube.get("WorkflowTemplate", "scale-up", namespace, api_version=API)
    assert list(_conditions(got)) == ["Valid", "Failing"]
    assert _conditions(got)["Failing"]["status"] == "True"
