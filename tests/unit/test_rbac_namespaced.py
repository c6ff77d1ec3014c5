"""suture.rbac.namespaced_grant: what the operator gets when it watches named namespaces only."""

from __future__ import annotations

from suture.actions import load_registry
from suture.rbac import cluster_role, cluster_scoped, namespaced_grant, namespaced_manifests

WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def test_scope_comes_from_the_kind_table() -> None:
    assert cluster_scoped("", "nodes")
    assert cluster_scoped("storage.k8s.io", "storageclasses")
    assert cluster_scoped("suture.dev", "clusterworkflowtemplates/status")
    assert not cluster_scoped("", "pods/eviction")
    assert not cluster_scoped("apps", "deployments/scale")
    # A resource the table does not know (a pack's own) counts as namespaced: a Role cannot widen access.
    assert not cluster_scoped("example.com", "widgets")


def test_no_cluster_scoped_write_outside_suture_own_templates() -> None:
    grant = namespaced_grant(load_registry(), namespaces=["b", "a", "a"])
    assert grant["namespaces"] == ["a", "b"]
    for rule in grant["cluster_rules"]:
        if rule["apiGroups"] != ["suture.dev"]:
            assert not WRITES & set(rule["verbs"]), rule
    assert {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["a", "b"], "verbs": ["get"]} in (
        grant["cluster_rules"]
    )
    assert grant["not_granted"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]


def test_roles_hold_every_namespaced_rule_of_the_cluster_role() -> None:
    """Nothing namespaced is lost by the split: the Role grants what the ClusterRole grants for it."""
    registry = load_registry()
    grant = namespaced_grant(registry, namespaces=["a"])
    role = {(g, r): set(rule["verbs"]) for rule in grant["role"] for g in rule["apiGroups"] for r in rule["resources"]}
    for rule in cluster_role(registry)["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                if not cluster_scoped(group, resource):
                    assert role[(group, resource)] == set(rule["verbs"]), (group, resource)


def test_home_role_is_the_operator_own_and_manifests_bind_it() -> None:
    grant = namespaced_grant(load_registry(), namespaces=["a"], actions=["scale_deployment"])
    home = {r for rule in grant["home_role"] for r in rule["resources"]}
    assert "remediations" in home
    assert "deployments/scale" not in home
    docs = namespaced_manifests(grant, namespace="ops", service_account="sa")
    roles = [(d["kind"], d["metadata"].get("namespace")) for d in docs]
    assert roles == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("Role", "a"),
        ("RoleBinding", "a"),
        ("Role", "ops"),
        ("RoleBinding", "ops"),
    ]
    assert all(
        d["subjects"] == [{"kind": "ServiceAccount", "name": "sa", "namespace": "ops"}] for d in docs if "subjects" in d
    )
