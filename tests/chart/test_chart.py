"""The Helm chart: lint and render clean, carry the generated CRDs and RBAC, reject bad values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.actions import load_registry
from suture.rbac import cluster_role
from tests.chart.helm import CHART, VALUES_FILES, documents, find, helm, template
from tests.conftest import REPO


@pytest.mark.parametrize("mode", sorted(VALUES_FILES))
def test_lint_is_clean(mode: str) -> None:
    values = VALUES_FILES[mode]
    args = ["-f", str(values)] if values else []
    proc = helm("lint", "--strict", str(CHART), *args)
    assert "0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout, proc.stdout
    assert "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("mode", sorted(VALUES_FILES))
def test_template_renders(mode: str) -> None:
    docs = documents(template(VALUES_FILES[mode]))
    kinds = sorted(d["kind"] for d in docs)
    # Namespaced mode: a Role and RoleBinding in each watched namespace (shop, payments) and the release's.
    roles = ["Role", "RoleBinding"] * 3 if mode == "namespaced" else []
    assert kinds == sorted(
        [
            "ServiceAccount",
            "Secret",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
            *roles,
            *(["Role", "RoleBinding"] if mode == "ha" else []),  # leader election
        ]
    )


def test_chart_crds_are_the_generated_ones_byte_for_byte() -> None:
    generated = sorted(p.name for p in (REPO / "crds").glob("*.yaml") if not p.name.startswith("approval-policy"))
    in_chart = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert in_chart == generated, "run `make chart`"
    for name in generated:
        assert (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes(), f"{name}: run `make chart`"


def test_admission_policy_template_is_the_generated_policy() -> None:
    rendered = find(documents(template()), "MutatingAdmissionPolicy") + find(
        documents(template()), "MutatingAdmissionPolicyBinding"
    )
    generated = documents((REPO / "crds" / "approval-policy.suture.dev.yaml").read_text())
    assert rendered == generated
    assert not find(documents(template(None, "admissionPolicy.enabled=false")), "MutatingAdmissionPolicy")


def test_rbac_rules_file_is_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "hack" / "chart-rbac.py"), "--check"], check=False)
    assert proc.returncode == 0, "charts/suture/files/rbac-rules.yaml drifted from suture.rbac: run `make chart`"


def _suture_rbac(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "suture"), "rbac", *args], capture_output=True, text=True, check=True
    ).stdout
    role: dict[str, Any] = next(d for d in yaml.safe_load_all(out) if d["kind"] == "ClusterRole")
    return role


@pytest.mark.parametrize("mode", ["default", "ha"])
def test_rendered_cluster_role_equals_suture_rbac(mode: str) -> None:
    (role,) = find(documents(template(VALUES_FILES[mode])), "ClusterRole")
    cli = _suture_rbac()
    assert role["rules"] == cli["rules"]
    assert role["metadata"]["annotations"]["suture.dev/actions"] == cli["metadata"]["annotations"]["suture.dev/actions"]
    assert role["rules"] == cluster_role(load_registry())["rules"]
    assert not any("secrets" in rule["resources"] for rule in role["rules"])


def test_gitops_suspend_grants_patching_argocd_and_flux_only_when_asked() -> None:
    (default,) = find(documents(template()), "ClusterRole")
    assert not any("kustomizations" in rule["resources"] for rule in default["rules"])
    (role,) = find(documents(template(None, "gitops.suspend=true")), "ClusterRole")
    assert role["rules"] == _suture_rbac("--gitops-suspend")["rules"]
    granted = {(r["apiGroups"][0], res): r["verbs"] for r in role["rules"] for res in r["resources"]}
    assert granted[("argoproj.io", "applications")] == ["get", "patch"]
    assert granted[("kustomize.toolkit.fluxcd.io", "kustomizations")] == ["get", "patch"]
    assert granted[("helm.toolkit.fluxcd.io", "helmreleases")] == ["get", "patch"]


def test_binding_names_the_chart_service_account() -> None:
    docs = documents(template(namespace="ops"))
    (sa,) = find(docs, "ServiceAccount")
    (binding,) = find(docs, "ClusterRoleBinding")
    (role,) = find(docs, "ClusterRole")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "ops"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def _container(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    (deployment,) = find(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_deployment_is_locked_down_and_wired() -> None:
    docs = documents(template())
    pod, c = _container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["args"][0] == "run"
    assert "--listen-address=0.0.0.0" in c["args"]
    assert "--port=8080" in c["args"]
    assert "--home-namespace=$(POD_NAMESPACE)" in c["args"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["SUTURE_DATA_DIR"]["value"] == "/data"
    assert "SUTURE_PEERING" not in env
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/data"]] == {"name": "data", "emptyDir": {}}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    token_mount = mounts["/var/run/secrets/suture-webhook"]
    (secret,) = find(docs, "Secret")
    assert volumes[token_mount]["secret"]["secretName"] == secret["metadata"]["name"]
    assert "--webhook-token-file=/var/run/secrets/suture-webhook/token" in c["args"]
    assert len(secret["data"]["token"]) > 40  # base64 of 40 random characters
    (service,) = find(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == find(docs, "Deployment")[0]["spec"]["selector"]["matchLabels"]


def test_existing_secret_is_used_and_none_generated() -> None:
    docs = documents(template(None, "webhook.existingSecret=my-token"))
    assert not find(docs, "Secret")
    pod, _ = _container(docs)
    assert {"name": "webhook-token", "secret": {"secretName": "my-token"}} in pod["volumes"]


def test_persistence_mounts_a_claim() -> None:
    docs = documents(template(None, "persistence.enabled=true"))
    (pvc,) = find(docs, "PersistentVolumeClaim")
    pod, _ = _container(docs)
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
    assert find(docs, "Deployment")[0]["spec"]["strategy"] == {"type": "Recreate"}


def test_namespaced_values_watch_only_their_namespaces() -> None:
    _, c = _container(documents(template(VALUES_FILES["namespaced"])))
    assert [a for a in c["args"] if a.startswith("--namespace=")] == ["--namespace=shop", "--namespace=payments"]


def test_ha_values_wire_leader_election_and_the_external_stores() -> None:
    docs = documents(template(VALUES_FILES["ha"], namespace="ops"))
    (deployment,) = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    _, c = _container(docs)
    env = {e["name"]: e for e in c["env"]}
    assert env["SUTURE_LEADER_ELECTION"]["value"] == "1"
    assert env["SUTURE_LEASE_NAME"]["value"] == "suture"
    assert env["SUTURE_DATABASE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "suture-database", "key": "url"}}
    assert env["SUTURE_CHECKPOINTS"]["valueFrom"] == env["SUTURE_DATABASE_URL"]["valueFrom"]
    assert env["SUTURE_QDRANT_URL"]["valueFrom"] == {"secretKeyRef": {"name": "suture-qdrant", "key": "url"}}
    (role,) = find(docs, "Role")
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]}
    ]
    (binding,) = find(docs, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == "ops"


def test_one_replica_has_no_leader_election() -> None:
    docs = documents(template())
    assert find(docs, "Role") == []
    _, c = _container(docs)
    assert "SUTURE_LEADER_ELECTION" not in {e["name"] for e in c["env"]}


def test_several_replicas_without_a_database_fail_clearly() -> None:
    proc = helm("template", "suture", str(CHART), "--set", "replicas=3", check=False)
    assert proc.returncode != 0
    assert "replicas > 1 needs database.url.secretName" in proc.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("replicas=two", "at '/replicas': got string, want integer"),
        ("webhook.port=http", "at '/webhook/port': got string, want integer"),
        ("persistence.enabled=maybe", "at '/persistence/enabled': got string, want boolean"),
        ("logFormat=xml", "at '/logFormat'"),
        ("replicaCount=2", "additional properties 'replicaCount' not allowed"),
    ],
)
def test_wrong_values_fail_with_the_schema_message(setting: str, message: str) -> None:
    proc = helm("template", "suture", str(CHART), "--set", setting, check=False)
    assert proc.returncode != 0
    assert "values don't meet the specifications of the schema" in proc.stderr
    assert message in proc.stderr, proc.stderr


def test_schema_is_valid_json_and_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sorted(defaults) == sorted(schema["properties"])


@pytest.mark.parametrize(
    ("setting", "actions"),
    [
        ("actions.enabled={scale_deployment,notify}", ["notify", "scale_deployment"]),
        ("actions.enabled={drain_node}", ["drain_node"]),
        ("actions.enabled={collect_diagnostics,get_resource,label,annotate}", None),
        ("actions.disabled={drain_node,run_job,apply_network_policy}", None),
    ],
)
def test_enabled_actions_get_the_rules_suture_rbac_gives_them(setting: str, actions: list[str] | None) -> None:
    (role,) = find(documents(template(None, setting)), "ClusterRole")
    chosen = role["metadata"]["annotations"]["suture.dev/actions"].split(",")
    if actions is not None:
        assert chosen == actions
    if "disabled" in setting:
        assert "drain_node" not in chosen
        assert len(chosen) == len(list(load_registry())) - 3
    cli = _suture_rbac("--actions", ",".join(chosen))
    assert role["rules"] == cli["rules"]
    assert role["rules"] == cluster_role(load_registry(), actions=chosen)["rules"]


def test_only_the_enabled_actions_write_what_they_need() -> None:
    (role,) = find(documents(template(None, "actions.enabled={notify}")), "ClusterRole")
    (full,) = find(documents(template()), "ClusterRole")
    assert role["rules"] != full["rules"]
    assert not any("pods/eviction" in rule["resources"] for rule in role["rules"])


def test_an_unknown_action_fails_clearly() -> None:
    proc = helm("template", "suture", str(CHART), "--set", "actions.enabled={scale_deployment,nope}", check=False)
    assert proc.returncode != 0
    assert 'unknown action "nope"; the built-in actions are: annotate,' in proc.stderr


def test_readme_values_table_matches_the_schema() -> None:
    from tests.chart.values_table import render

    readme = (REPO / "README.md").read_text()
    section = readme.split("## Installing with Helm", 1)[1].split("\n## ", 1)[0]
    table = section.split("### Values", 1)[1]
    start = table.index("| value | type | default | meaning |")
    lines = table[start:].splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))
    rows = "\n".join(lines[:end]) + "\n"
    assert rows == render(), "regenerate with `.venv/bin/python -m tests.chart.values_table`"


def _without_chart_names(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RBAC documents with the names, labels and subjects that differ between chart and CLI taken out."""
    out = []
    for d in docs:
        if d["kind"] not in ("ClusterRole", "Role"):
            continue
        out.append(
            {
                "kind": d["kind"],
                "namespace": d["metadata"].get("namespace"),
                "annotations": d["metadata"].get("annotations", {}),
                "rules": d["rules"],
            }
        )
    return out


@pytest.mark.parametrize(
    ("sets", "actions"),
    [
        ((), None),
        (
            ("actions.enabled={scale_deployment,cordon_node,collect_diagnostics}",),
            "scale_deployment,cordon_node,collect_diagnostics",
        ),
        (("replicas=2", "database.url.secretName=db"), None),
    ],
)
def test_namespaced_mode_renders_what_suture_rbac_watch_namespaces_prints(
    sets: tuple[str, ...], actions: str | None
) -> None:
    """Chart and CLI come from one generator: the same ClusterRole, Roles and not-granted writes."""
    rendered = documents(template(VALUES_FILES["namespaced"], *sets, namespace="ops"))
    args = ["--watch-namespaces", "shop,payments", "--namespace", "ops"]
    args += ["--actions", actions] if actions else []
    out = subprocess.run(
        [str(Path(sys.executable).parent / "suture"), "rbac", *args], capture_output=True, text=True, check=True
    ).stdout
    cli = list(yaml.safe_load_all(out))
    # Leader election's Role (replicas > 1) lives in its own template, outside what `suture rbac` prints.
    election = [d for d in rendered if d["metadata"]["name"].endswith("-leader-election")]
    assert bool(election) == ("replicas=2" in sets)
    rendered = [d for d in rendered if d not in election]
    assert _without_chart_names(rendered) == _without_chart_names(cli)
    name = find(rendered, "ClusterRole")[0]["metadata"]["name"]
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": "ops"}]
    for binding in find(rendered, "RoleBinding") + find(rendered, "ClusterRoleBinding"):
        assert binding["subjects"] == subject
        assert binding["roleRef"]["name"] == name


def test_namespaced_mode_grants_no_cluster_scoped_write_and_no_other_namespace() -> None:
    docs = documents(template(VALUES_FILES["namespaced"], namespace="ops"))
    (cluster,) = find(docs, "ClusterRole")
    writes = {"create", "update", "patch", "delete", "deletecollection"}
    for rule in cluster["rules"]:
        if rule["apiGroups"] != ["suture.dev"]:  # its own ClusterWorkflowTemplates: validated, status written
            assert not writes & set(rule["verbs"]), rule
    assert {
        "apiGroups": [""],
        "resources": ["namespaces"],
        "resourceNames": ["payments", "shop"],
        "verbs": ["get"],
    } in (cluster["rules"])
    assert "core nodes: patch" in cluster["metadata"]["annotations"]["suture.dev/not-granted"]
    roles = {r["metadata"]["namespace"]: r for r in find(docs, "Role")}
    assert sorted(roles) == ["ops", "payments", "shop"]
    # The release's own namespace holds only what the operator itself needs (pause, Remediations, Events).
    home = {res for rule in roles["ops"]["rules"] for res in rule["resources"]}
    assert "pods" not in home
    assert "deployments" not in home
    assert "remediations" in home
    assert "configmaps" in home
    assert not any("secrets" in rule["resources"] for role in roles.values() for rule in role["rules"])


def test_a_watched_namespace_must_be_a_namespace_name() -> None:
    proc = helm("template", "suture", str(CHART), "--set", "watchNamespaces={Shop/x}", check=False)
    assert proc.returncode != 0
    assert "at '/watchNamespaces/0'" in proc.stderr, proc.stderr
