"""``suture new template --alert FILE``: a starter template for an alert, chosen by rules, not guessed.

The alert's name picks a fitting action from the catalogue (the first rule
whose pattern matches, else a notification); its labels pick the target
(``pod``, ``deployment``, ``node``, ...) as ``${{ alert.labels.* }}`` lookups,
never as values copied from the file: the template must fit the next alert
of the same kind, and label values are untrusted data. The result collects
diagnostics first, runs the action (behind an approval when the action is
high-risk or disruptive), and verifies that the alert resolves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suture.actions import Registry, Risk
from suture.api import API_VERSION


@dataclass(frozen=True)
class Rule:
    """An alert-name pattern and the action that usually fixes it."""

    pattern: str
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""
    kinds: frozenset[str] = frozenset()  # the kinds the action works on; empty: any


# First match wins. Parameters are conservative starting points the user is expected to review.
RULES: tuple[Rule, ...] = (
    Rule(
        r"OOM|Memory",
        "increase_resources",
        {"resource": "memory", "factor": 1.5, "cap": "4Gi"},
        "a container ran out of memory: raise its limit, bounded by a cap",
    ),
    Rule(
        r"CrashLoop|ContainerWaiting|PodNotReady|PodNotHealthy",
        "restart_pod",
        {"name": "${{ alert.labels.pod }}"},
        "a pod is stuck: restart it once",
    ),
    Rule(
        r"ReplicasMismatch|RolloutStuck|GenerationMismatch|DeploymentFailed",
        "rollback_deployment",
        {},
        "a rollout is not making progress: go back to the previous revision",
        frozenset({"Deployment"}),
    ),
    Rule(
        r"HpaMaxedOut",
        "update_hpa",
        {"maxReplicas": "${{ target.spec.maxReplicas + 2 }}"},
        "the autoscaler hit its ceiling: raise it a little",
    ),
    Rule(
        r"VolumeFillingUp|VolumeFull|DiskFull|PersistentVolume",
        "expand_pvc",
        {"factor": 1.5, "cap": "100Gi"},
        "a volume is filling up: grow the claim, bounded by a cap",
    ),
    Rule(
        r"Node(NotReady|Unreachable|MemoryPressure|DiskPressure|PIDPressure)",
        "cordon_node",
        {},
        "a node is unhealthy: stop scheduling onto it",
    ),
    Rule(r"JobFailed|CronJob", "delete_failed_pods", {}, "failed pods of a job pile up: clean them away"),
)
FALLBACK = Rule(
    r".*",
    "notify",
    {"urlFrom": "oncall", "text": "${{ alert.name }} fired; Suture has no fix for it yet"},
    "no rule fits this alert: collect diagnostics and tell a person",
)

# Label -> (kind, owner to act on). The first label the alert carries wins.
TARGETS: tuple[tuple[str, str, str | None], ...] = (
    ("pod", "Pod", "Deployment"),
    ("deployment", "Deployment", None),
    ("statefulset", "StatefulSet", None),
    ("daemonset", "DaemonSet", None),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler", None),
    ("persistentvolumeclaim", "PersistentVolumeClaim", None),
    ("job_name", "Job", None),
    ("service", "Service", None),
    ("node", "Node", None),
)
CLUSTER_SCOPED = frozenset({"Node"})


def rule_for(alert_name: str, kind: str | None = None) -> Rule:
    """The first rule whose pattern is found in the alert's name and that fits the kind acted on, else the
    notification fallback."""
    fits = (r for r in RULES if re.search(r.pattern, alert_name) and (not r.kinds or kind in r.kinds))
    return next(fits, FALLBACK)


def template_name(alert_name: str) -> str:
    """``KubePodCrashLooping`` -> ``kube-pod-crash-looping`` (a DNS name)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", alert_name)
    name = re.sub(r"[^a-z0-9-]+", "-", words.lower()).strip("-")
    return name[:63].strip("-") or "alert"


def _target(labels: Mapping[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """The template's target section from the labels the alert carries, and the kind actions work on."""
    for label, kind, owner in TARGETS:
        if label in labels:
            target: dict[str, Any] = {"kind": kind, "name": f"${{{{ alert.labels.{label} }}}}"}
            if kind not in CLUSTER_SCOPED and "namespace" in labels:
                target["namespace"] = "${{ alert.labels.namespace }}"
            if owner is not None:
                target["owner"] = owner
            return target, owner or kind
    return None, None


def scaffold(alert: Mapping[str, Any], *, registry: Registry) -> dict[str, Any]:
    """A WorkflowTemplate (namespaced where the target is) for ``alert``; raises ValueError without an alertname."""
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    name = str(alert.get("name") or labels.get("alertname") or "")
    if not name:
        raise ValueError("the alert has no alertname label")
    target, acted_on = _target(labels)
    rule = rule_for(name, acted_on)
    if rule.action not in registry:
        rule = FALLBACK
    spec = registry.get(rule.action)
    steps: list[dict[str, Any]] = []
    namespaced = target is not None and acted_on not in CLUSTER_SCOPED and "namespace" in labels
    if namespaced:
        steps.append(
            {
                "name": "collect",
                "description": "Keep the evidence before anything changes.",
                "action": {"name": "collect_diagnostics", "params": {"kind": acted_on}},
                "onFailure": "continue",
            }
        )
    steps.append({"name": "fix", "description": rule.why, "action": {"name": rule.action, "params": dict(rule.params)}})
    match: dict[str, Any] = {"alertNames": [name]}
    if labels.get("severity"):
        match["severities"] = [labels["severity"]]
    body: dict[str, Any] = {
        "description": f"Starter template for {name}: {rule.why}. Review the parameters before use.",
        "tags": ["generated"],
        "match": match,
        "steps": steps,
        "safety": {
            "cooldown": "30m",
            "maxRunsPerHour": 4,
            "requiresApproval": spec.risk in (Risk.HIGH, Risk.DISRUPTIVE),
        },
        "verify": {"alertResolvedWithin": "15m"},
    }
    if target is not None:
        body = {"target": target, **body}
    metadata: dict[str, Any] = {"name": template_name(name)}
    if namespaced:
        metadata["namespace"] = labels["namespace"]
    kind = "WorkflowTemplate" if namespaced else "ClusterWorkflowTemplate"
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": body}
