"""suture new template: for kube-prometheus alerts, the starter template passes suture validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from suture.actions import load_registry
from suture.cli import main
from suture.scaffold import scaffold
from suture.validation import validate_object

registry = load_registry()

ALERTS = {
    "KubePodCrashLooping": ({"namespace": "shop", "pod": "web-1", "container": "main"}, "restart_pod"),
    "KubeContainerWaiting": ({"namespace": "shop", "pod": "web-1", "container": "main"}, "restart_pod"),
    "KubePodNotReady": ({"namespace": "shop", "pod": "web-1"}, "restart_pod"),
    "KubeDeploymentReplicasMismatch": ({"namespace": "shop", "deployment": "web"}, "rollback_deployment"),
    "KubeDeploymentRolloutStuck": ({"namespace": "shop", "deployment": "web"}, "rollback_deployment"),
    "KubeStatefulSetReplicasMismatch": ({"namespace": "shop", "statefulset": "db"}, "notify"),
    "KubeHpaMaxedOut": ({"namespace": "shop", "horizontalpodautoscaler": "web"}, "update_hpa"),
    "KubePersistentVolumeFillingUp": ({"namespace": "shop", "persistentvolumeclaim": "data-db-0"}, "expand_pvc"),
    "KubeNodeNotReady": ({"node": "worker-1"}, "cordon_node"),
    "KubeJobFailed": ({"namespace": "shop", "job_name": "nightly"}, "delete_failed_pods"),
    "ContainerOOMKilled": ({"namespace": "shop", "pod": "web-1", "container": "main"}, "increase_resources"),
    "Watchdog": ({}, "notify"),
}


@pytest.mark.parametrize("alertname", sorted(ALERTS))
def test_the_generated_template_validates(alertname: str) -> None:
    labels, action = ALERTS[alertname]
    doc = scaffold({"labels": {"alertname": alertname, "severity": "warning", **labels}}, registry=registry)
    problems = [p for p in validate_object(doc, registry) if p.severity == "error"]
    assert problems == [], [f"{p.path}: {p.message}" for p in problems]
    steps = doc["spec"]["steps"]
    assert steps[-1]["action"]["name"] == action
    assert doc["spec"]["match"]["alertNames"] == [alertname]
    assert doc["spec"]["verify"]["alertResolvedWithin"]
    if "namespace" in labels and alertname not in ("KubeNodeNotReady", "Watchdog"):
        assert steps[0]["action"]["name"] == "collect_diagnostics"  # diagnostics first


def test_label_values_never_enter_the_template_only_lookups() -> None:
    hostile = "${{ 1 + 1 }}\"'; rm -rf /"
    doc = scaffold(
        {"labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": hostile}}, registry=registry
    )
    assert hostile not in json.dumps(doc)
    assert doc["spec"]["target"]["name"] == "${{ alert.labels.pod }}"


def test_the_cli_writes_a_file_suture_validate_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alert = tmp_path / "alert.json"
    alert.write_text(
        json.dumps({"labels": {"alertname": "KubeHpaMaxedOut", "namespace": "shop", "horizontalpodautoscaler": "web"}})
    )
    out = tmp_path / "t.yaml"
    assert main(["new", "template", "--alert", str(alert), "--output", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["kind"] == "WorkflowTemplate"
    assert main(["validate", str(out)]) == 0
    assert "all valid" in capsys.readouterr().out
