"""Least-privilege RBAC for the operator, generated from the action registry.

The ClusterRole is the union of what the operator itself needs (its own
resources, Events, reading the objects a target can resolve to) and the rules
each enabled action declares. Nothing else: in particular no Secrets.
``suture rbac`` renders it from here, so the grant follows the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from suture.actions import RbacRule, Registry
from suture.api import GROUP, TARGET_KINDS
from suture.kube import resource_info

ROLE_NAME = "suture-operator"

# What the operator needs whatever the actions: its resources, Events, and kopf's own discovery.
OPERATOR_RULES: tuple[RbacRule, ...] = (
    RbacRule(GROUP, ("workflowtemplates", "clusterworkflowtemplates"), ("get", "list", "watch", "patch")),
    RbacRule(GROUP, ("workflowtemplates/status", "clusterworkflowtemplates/status"), ("get", "patch")),
    # create: the Alertmanager receiver stores one Remediation per alert occurrence.
    RbacRule(GROUP, ("remediations",), ("create", "get", "list", "watch", "patch", "update")),
    # The receiver reads the global pause (ConfigMap suture-pause in its home namespace). A ClusterRole
    # cannot name one object in one namespace; a chart can narrow this with a Role and resourceNames.
    RbacRule("", ("configmaps",), ("get",)),
    RbacRule(GROUP, ("remediations/status",), ("get", "patch")),
    RbacRule("", ("events",), ("create", "patch")),
    RbacRule("events.k8s.io", ("events",), ("create", "patch")),
    # kopf scans the API for the resources it serves and watches namespaces for -A / patterns.
    RbacRule("apiextensions.k8s.io", ("customresourcedefinitions",), ("get", "list", "watch")),
    RbacRule("", ("namespaces",), ("get", "list", "watch")),
    # Read at start-up: is the approval-stamp policy installed, so that approvers are authenticated?
    RbacRule(
        "admissionregistration.k8s.io", ("mutatingadmissionpolicies", "mutatingadmissionpolicybindings"), ("get",)
    ),
)


def _target_rules() -> tuple[RbacRule, ...]:
    """Reading (and, for rollouts and resource checks, listing) every kind a template can target."""
    by_group: dict[str, list[str]] = {}
    for kind, api_version in TARGET_KINDS.items():
        group = api_version.split("/")[0] if "/" in api_version else ""
        by_group.setdefault(group, []).append(resource_info(kind, api_version).plural)
    return tuple(RbacRule(group, tuple(sorted(plurals)), ("get", "list")) for group, plurals in by_group.items())


def merge_rules(rules: Iterable[RbacRule]) -> list[dict[str, Any]]:
    """Rules grouped by (apiGroup, resource) with their verbs unioned, in a stable order."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for resource in rule.resources:
            verbs.setdefault((rule.api_group, resource), set()).update(rule.verbs)
    # Resources of one group with identical verbs share a rule, as people write them.
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), vs in sorted(verbs.items()):
        grouped.setdefault((group, tuple(sorted(vs))), []).append(resource)
    return [
        {"apiGroups": [group], "resources": resources, "verbs": list(vs)}
        for (group, vs), resources in sorted(grouped.items())
    ]


LEASE_RULES = (RbacRule("coordination.k8s.io", ("leases",), ("create", "get", "update")),)
"""Leader election (suture.lease), granted by a Role in the operator's home namespace only."""


def cluster_role(registry: Registry, *, actions: Iterable[str] | None = None) -> dict[str, Any]:
    """The operator's ClusterRole for the given actions (all registered ones by default)."""
    chosen = [registry.get(name) for name in actions] if actions is not None else list(registry)
    rules: list[RbacRule] = [*OPERATOR_RULES, *_target_rules()]
    for spec in chosen:
        rules.extend(spec.rbac)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": ROLE_NAME,
            "labels": {"app.kubernetes.io/part-of": "suture"},
            "annotations": {"suture.dev/actions": ",".join(sorted(s.name for s in chosen))},
        },
        "rules": merge_rules(rules),
    }


def cluster_role_binding(*, namespace: str, service_account: str) -> dict[str, Any]:
    """Binds the operator's ClusterRole to its ServiceAccount."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE_NAME, "labels": {"app.kubernetes.io/part-of": "suture"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE_NAME},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }
