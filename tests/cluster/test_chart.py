"""The chart's rendered manifests against the real API server (server-side dry-run), and its NOTES."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import CHART, VALUES_FILES, helm, template
from tests.conftest import kubectl_binary


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def chart_namespace(kubeconfig: str) -> str:
    _kubectl(kubeconfig, "create", "namespace", "suture-chart")
    return "suture-chart"


@pytest.mark.parametrize("mode", sorted(VALUES_FILES))
def test_rendered_manifests_pass_server_side_dry_run(kubeconfig: str, chart_namespace: str, mode: str) -> None:
    values: Path | None = VALUES_FILES[mode]
    # The CRDs are included too: they are what `helm install` creates first.
    rendered = template(values, namespace=chart_namespace, crds=True)
    for ns in yaml.safe_load(values.read_text()).get("watchNamespaces", []) if values else []:
        _kubectl(kubeconfig, "create", "namespace", ns)  # namespaced mode: its Roles live there
    # Every namespaced object names its namespace (the release's, or a watched one for Roles).
    proc = _kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for kind in ("serviceaccount", "secret", "clusterrole.", "clusterrolebinding.", "service/", "deployment.apps"):
        assert kind in out, out
    if mode == "namespaced":
        assert out.count("\nrole.rbac.authorization.k8s.io/suture created") == 3, out  # shop, payments, the release's
    assert "mutatingadmissionpolicy.admissionregistration.k8s.io/suture-approval-stamp" in out
    assert "(server dry run)" in out


def test_notes_print_the_receiver_snippet_with_the_service_address(kubeconfig: str, chart_namespace: str) -> None:
    # The approval policy has a fixed name that other tests install from crds/ without Helm.
    args = ["-n", chart_namespace, "--dry-run=server", "--set", "admissionPolicy.enabled=false"]
    proc = helm("install", "suture", str(CHART), *args, kubeconfig=kubeconfig)
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert f"url: http://suture.{chart_namespace}.svc:8080/webhook/alertmanager" in notes
    assert "credentials_file: /etc/alertmanager/secrets/suture-webhook/token" in notes
    assert "send_resolved: true" in notes


def test_helm_install_upgrade_and_uninstall(kubeconfig: str) -> None:
    """A real install: objects created, the generated token survives an upgrade, the Secret survives uninstall."""
    ns = f"suture-chart-{uuid.uuid4().hex[:6]}"
    release = "chart-install"
    # The approval policy has a fixed name that other tests install from crds/ without Helm.
    args = ["-n", ns, "--create-namespace", "--set", "admissionPolicy.enabled=false", "--wait=false"]
    try:
        helm("install", release, str(CHART), *args, kubeconfig=kubeconfig)
        proc = _kubectl(kubeconfig, "get", "deploy,svc,sa,secret", "-n", ns, "-o", "name")
        assert proc.returncode == 0, proc.stderr
        for name in ("deployment.apps/", "service/", "serviceaccount/", "secret/"):
            assert f"{name}{release}-suture" in proc.stdout, proc.stdout
        token = _kubectl(
            kubeconfig, "get", "secret", "-n", ns, f"{release}-suture-webhook", "-o", "jsonpath={.data.token}"
        )
        assert token.stdout
        role = _kubectl(kubeconfig, "get", "clusterrole", f"{release}-suture", "-o", "name")
        assert role.returncode == 0, role.stderr
        crd = _kubectl(kubeconfig, "get", "crd", "remediations.suture.dev", "-o", "name")
        assert crd.returncode == 0, crd.stderr

        helm(
            "upgrade",
            release,
            str(CHART),
            "-n",
            ns,
            "--set",
            "admissionPolicy.enabled=false",
            "--set",
            "actions.enabled={notify}",
            kubeconfig=kubeconfig,
        )
        again = _kubectl(
            kubeconfig, "get", "secret", "-n", ns, f"{release}-suture-webhook", "-o", "jsonpath={.data.token}"
        )
        assert again.stdout == token.stdout, "helm upgrade replaced the webhook token"
        actions = _kubectl(
            kubeconfig,
            "get",
            "clusterrole",
            f"{release}-suture",
            "-o",
            "jsonpath={.metadata.annotations.suture\\.dev/actions}",
        )
        assert actions.stdout == "notify"
    finally:
        helm("uninstall", release, "-n", ns, check=False, kubeconfig=kubeconfig)
    kept = _kubectl(kubeconfig, "get", "secret", "-n", ns, f"{release}-suture-webhook", "-o", "name")
    assert kept.returncode == 0, "the webhook Secret is kept on uninstall (helm.sh/resource-policy: keep)"
    assert _kubectl(kubeconfig, "get", "clusterrole", f"{release}-suture").returncode != 0
    _kubectl(kubeconfig, "delete", "namespace", ns, "--wait=false")
