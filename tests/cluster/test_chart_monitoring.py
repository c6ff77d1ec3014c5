"""The chart's ServiceMonitor, PrometheusRule and dashboard ConfigMap pass a server-side dry-run
against the real prometheus-operator CRDs (vendored in tests/fixtures/prometheus-operator)."""

from __future__ import annotations

import subprocess

from tests.chart.helm import template
from tests.conftest import REPO, kubectl_binary

CRDS = REPO / "tests" / "fixtures" / "prometheus-operator"


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True, text=True, check=False
    )


def test_monitoring_objects_pass_server_side_dry_run(kubeconfig: str) -> None:
    for crd in sorted(CRDS.glob("*.yaml")):
        proc = _kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(crd))
        assert proc.returncode == 0, proc.stderr
    for name in ("servicemonitors", "prometheusrules"):
        proc = _kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{name}.monitoring.coreos.com")
        assert proc.returncode == 0, proc.stderr
    _kubectl(kubeconfig, "create", "namespace", "suture-monitoring")
    rendered = template(
        None,
        "metrics.serviceMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
        "metrics.dashboard.enabled=true",
        namespace="suture-monitoring",
    )
    proc = _kubectl(kubeconfig, "apply", "--dry-run=server", "-n", "suture-monitoring", "-f", "-", stdin=rendered)
    assert proc.returncode == 0, proc.stderr
    for kind in (
        "servicemonitor.monitoring.coreos.com/",
        "prometheusrule.monitoring.coreos.com/",
        "configmap/suture-dashboard",
    ):
        assert kind in proc.stdout, proc.stdout
