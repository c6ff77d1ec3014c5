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
from suture.kube import KINDS, resource_info

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


# Only for templates declaring safety.gitops: suspend: read and pause (then restore) the Argo CD
# Application or Flux Kustomization/HelmRelease that would revert the run (suture.engine.gitops).
GITOPS_SUSPEND_RULES: tuple[RbacRule, ...] = (
    RbacRule("argoproj.io", ("applications",), ("get", "patch")),
    RbacRule("kustomize.toolkit.fluxcd.io", ("kustomizations",), ("get", "patch")),
    RbacRule("helm.toolkit.fluxcd.io", ("helmreleases",), ("get", "patch")),
)


def _target_rules() -> tuple[RbacRule, ...]:
    """Reading (and, for rollouts and resource checks, listing) every kind a template can target.

    The receiver's live-context reads (suture.webhook.livecontext: ``get`` on pods, nodes, replicasets and
    deployments) ride on these, in the watched namespaces only; its one read beyond them is ``get`` on
    controllerrevisions, where a StatefulSet's or DaemonSet's pod shows its rollout.
    """
    by_group: dict[str, list[str]] = {}
    for kind, api_version in TARGET_KINDS.items():
        group = api_version.split("/")[0] if "/" in api_version else ""
        by_group.setdefault(group, []).append(resource_info(kind, api_version).plural)
    reads = tuple(RbacRule(group, tuple(sorted(plurals)), ("get", "list")) for group, plurals in by_group.items())
    return (*reads, RbacRule("apps", ("controllerrevisions",), ("get",)))


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


def _wanted(
    registry: Registry, actions: Iterable[str] | None, gitops_suspend: bool
) -> tuple[list[Any], list[RbacRule]]:
    """The chosen action specs and every rule the operator needs for them.

    ``gitops_suspend`` adds patching Argo CD Applications and Flux Kustomizations/HelmReleases,
    which only templates with ``safety.gitops: suspend`` need.
    """
    chosen = [registry.get(name) for name in actions] if actions is not None else list(registry)
    rules: list[RbacRule] = [*OPERATOR_RULES, *_target_rules()]
    if gitops_suspend:
        rules.extend(GITOPS_SUSPEND_RULES)
    for spec in chosen:
        rules.extend(spec.rbac)
    return chosen, rules


def cluster_role(
    registry: Registry, *, actions: Iterable[str] | None = None, gitops_suspend: bool = False
) -> dict[str, Any]:
    """The operator's ClusterRole for the given actions (all registered ones by default)."""
    chosen, rules = _wanted(registry, actions, gitops_suspend)
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


# Cluster-scoped resources the kind table does not carry (kopf's peering objects, should a pack grant them).
_EXTRA_CLUSTER_SCOPED = {("kopf.dev", "clusterkopfpeerings")}
READ_VERBS = frozenset({"get", "list", "watch"})


def cluster_scoped(api_group: str, resource: str) -> bool:
    """True when ``resource`` (``plural`` or ``plural/subresource``) of ``api_group`` is not namespaced.

    Resources the kind table does not know (a third-party pack's own) count as namespaced: a Role
    granting a cluster-scoped resource grants nothing, so the mistake cannot widen access.
    """
    plural = resource.split("/", 1)[0]
    if (api_group, plural) in _EXTRA_CLUSTER_SCOPED:
        return True
    return any(not i.namespaced and i.group == api_group and i.plural == plural for i in KINDS.entries())


def namespaced_grant(
    registry: Registry,
    *,
    namespaces: Iterable[str],
    actions: Iterable[str] | None = None,
    gitops_suspend: bool = False,
) -> dict[str, Any]:
    """What the operator gets when it watches only ``namespaces`` (the chart's namespaced mode).

    ``role``: the namespaced rules, for a Role in each watched namespace. ``home_role``: the operator's
    own namespaced rules (pause ConfigMap, Remediations of ClusterWorkflowTemplates, Events), for a Role in
    its home namespace. ``cluster_rules``: cluster-scoped reads only (CRDs for kopf, nodes and
    StorageClasses an action reads, the approval policy), Suture's own ClusterWorkflowTemplates, and
    ``get`` on the watched Namespace objects by name. ``not_granted``: writes to cluster-scoped
    resources, never given in this mode (so node actions such as cordon_node cannot act).
    """
    watched = sorted(set(namespaces))
    chosen, rules = _wanted(registry, actions, gitops_suspend)
    in_namespace: list[RbacRule] = []
    home: list[RbacRule] = []
    cluster: list[RbacRule] = []
    refused: list[RbacRule] = []
    for rule in rules:
        for resource in rule.resources:
            one = RbacRule(rule.api_group, (resource,), rule.verbs)
            if not cluster_scoped(rule.api_group, resource):
                in_namespace.append(one)
                if rule in OPERATOR_RULES:
                    home.append(one)
            elif rule.api_group == GROUP:  # Suture's own cluster-scoped templates: validated and indexed
                cluster.append(one)
            elif rule.api_group == "" and resource == "namespaces":
                continue  # only the watched ones, by name (below)
            else:
                reads = tuple(v for v in rule.verbs if v in READ_VERBS)
                writes = tuple(v for v in rule.verbs if v not in READ_VERBS)
                if reads:
                    cluster.append(RbacRule(rule.api_group, (resource,), reads))
                if writes:
                    refused.append(RbacRule(rule.api_group, (resource,), writes))
    cluster_rules = merge_rules(cluster)
    if watched:
        cluster_rules.append(
            {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": watched, "verbs": ["get"]}
        )
    return {
        "actions": sorted(s.name for s in chosen),
        "namespaces": watched,
        "role": merge_rules(in_namespace),
        "home_role": merge_rules(home),
        "cluster_rules": cluster_rules,
        "not_granted": merge_rules(refused),
    }


def namespaced_manifests(grant: dict[str, Any], *, namespace: str, service_account: str) -> list[dict[str, Any]]:
    """ClusterRole, Roles and their bindings for a :func:`namespaced_grant` (``suture rbac --watch-namespaces``)."""
    labels = {"app.kubernetes.io/part-of": "suture"}
    subject = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]
    not_granted = "; ".join(
        f"{r['apiGroups'][0] or 'core'} {','.join(r['resources'])}: {','.join(r['verbs'])}"
        for r in grant["not_granted"]
    )
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": ROLE_NAME,
                "labels": labels,
                "annotations": {
                    "suture.dev/actions": ",".join(grant["actions"]),
                    "suture.dev/not-granted": not_granted,
                },
            },
            "rules": grant["cluster_rules"],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": ROLE_NAME, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE_NAME},
            "subjects": subject,
        },
    ]
    targets = [(ns, grant["role"]) for ns in grant["namespaces"]]
    if namespace not in grant["namespaces"]:
        targets.append((namespace, grant["home_role"]))
    for ns, rules in targets:
        meta = {"name": ROLE_NAME, "namespace": ns, "labels": labels}
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules})
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
                "subjects": subject,
            }
        )
    return docs
