"""WorkflowTemplate and ClusterWorkflowTemplate: remediation workflows users declare."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from suture.api.base import Condition, Duration, LabelSelector, SutureModel
from suture.api.checks import PromQLCheck
from suture.api.steps import END, Step

# Kinds a template can target, with their apiVersion; owner traversal walks
# ownerReferences (Pod -> ReplicaSet -> Deployment) or a Pod's spec.nodeName.
TARGET_KINDS: dict[str, str] = {
    "Pod": "v1",
    "Node": "v1",
    "PersistentVolumeClaim": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}
CLUSTER_SCOPED_KINDS = frozenset({"Node", "Namespace"})
TargetKind = Literal[
    "Pod",
    "Node",
    "PersistentVolumeClaim",
    "Service",
    "Namespace",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
]
OwnerKind = Literal["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Node"]
GitOpsMode = Literal["refuse", "suspend", "ignore"]


class AlertMatch(SutureModel):
    """Which alerts a template is a candidate for; every non-empty term must hold."""

    alert_names: list[str] = Field(default_factory=list, description="Alert names (alertname label); any if empty.")
    labels: LabelSelector | None = Field(default=None, description="Selector over the alert's labels.")
    severities: list[str] = Field(default_factory=list, description="Allowed severity label values; any if empty.")

    def admits(self, labels: dict[str, str]) -> bool:
        """True when an alert with these labels is a candidate for the template."""
        if self.alert_names and labels.get("alertname") not in self.alert_names:
            return False
        if self.severities and labels.get("severity") not in self.severities:
            return False
        return self.labels is None or self.labels.matches(labels)


class TargetSpec(SutureModel):
    """How to find the object a run acts on, from the alert's labels."""

    kind: TargetKind = Field(description="Kind of the object the alert is about.")
    namespace: str | None = Field(
        default=None,
        max_length=512,
        description="Namespace: a literal or ${{ alert.labels.namespace }}; empty for cluster-scoped kinds.",
    )
    name: str = Field(min_length=1, max_length=512, description="Name: a literal or ${{ alert.labels.pod }}.")
    owner: OwnerKind | None = Field(
        default=None,
        description="Walk up to this owner (e.g. a Pod's Deployment, or Node for the Pod's node) and act on it.",
    )


class Timeouts(SutureModel):
    """Time limits of a run."""

    workflow: Duration = Field(default="1h", description="The whole run, approvals included.")
    step: Duration = Field(default="10m", description="Default per-attempt limit of a step.")


class Safety(SutureModel):
    """Guard rails applied before and during every run of the template."""

    dry_run: bool = Field(default=False, description="Run every action with server-side dry-run only.")
    requires_approval: bool = Field(default=False, description="Ask a person before the first step.")
    cooldown: Duration = Field(default="10m", description="Minimum time between runs on the same target.")
    max_runs_per_hour: int = Field(default=6, ge=0, le=1000, description="Runs per hour per template; 0 = unlimited.")
    allowed_namespaces: list[str] = Field(default_factory=list, description="Only these namespaces; all if empty.")
    denied_namespaces: list[str] = Field(
        default_factory=lambda: ["kube-system"], description="Never these namespaces (wins over allowed)."
    )
    rollback_on_cancel: bool = Field(
        default=False, description="Undo completed reversible steps when a run is cancelled or its Remediation deleted."
    )
    locked_variables: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Variables a Remediation may not override (caps, ceilings, notification channels).",
    )
    gitops: GitOpsMode = Field(
        default="refuse",
        description="When the target or an owner is managed by Argo CD or Flux (which would revert the change): "
        "refuse the run (default), suspend the Flux Kustomization/HelmRelease or the Argo CD Application's "
        "automated sync for the run and restore it afterwards, or ignore it and act anyway.",
    )

    def permits_namespace(self, namespace: str | None) -> bool:
        """True when a run may act in ``namespace`` (None = cluster-scoped)."""
        if namespace is None:
            return True
        if namespace in self.denied_namespaces:
            return False
        return not self.allowed_namespaces or namespace in self.allowed_namespaces


class Verify(SutureModel):
    """How a run's success is judged after its steps complete."""

    alert_resolved_within: Duration = Field(
        default="10m", description="The alert must resolve within this window after the run."
    )
    promql: PromQLCheck | None = Field(default=None, description="An extra PromQL check that must hold.")


class WorkflowTemplateSpec(SutureModel):
    """A remediation workflow: when it applies, what it acts on, and its steps."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.steps.all(s, self.steps.exists_one(t, t.name == s.name))",
                    "message": "step names must be unique",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.steps.all(s, s.name != 'end')",
                    "message": "'end' is reserved and cannot name a step",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.steps.all(s, !has(s.next) || s.next == 'end' || "
                    "self.steps.exists(t, t.name == s.next))",
                    "message": "every step's next must name a step of this template, or end",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.steps.all(s, !has(s.condition) || "
                    "((!has(s.condition.then) || s.condition.then == 'end' || "
                    "self.steps.exists(t, t.name == s.condition.then)) && "
                    "(!has(s.condition.__else__) || s.condition.__else__ == 'end' || "
                    "self.steps.exists(t, t.name == s.condition.__else__))))",
                    "message": "condition then/else must name a step of this template, or end",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "!has(self.timeouts) || !has(self.timeouts.step) || duration(self.timeouts.step) <= "
                    "(has(self.timeouts.workflow) ? duration(self.timeouts.workflow) : duration('1h'))",
                    "message": "timeouts.step must not be longer than timeouts.workflow",
                    "fieldPath": ".timeouts.step",
                },
                {
                    "rule": "self.steps.all(s, !has(s.timeout) || duration(s.timeout) <= "
                    "(has(self.timeouts) && has(self.timeouts.workflow) ? duration(self.timeouts.workflow) "
                    ": duration('1h')))",
                    "message": "a step's timeout must not be longer than timeouts.workflow",
                    "fieldPath": ".steps",
                },
                {
                    "rule": "self.steps.all(s, (!has(s.parallel) || s.parallel.steps.all(n, "
                    "self.steps.exists(t, t.name == n))) && (!has(s.foreach) || "
                    "self.steps.exists(t, t.name == s.foreach.step)))",
                    "message": "parallel steps and foreach step must name steps of this template",
                    "fieldPath": ".steps",
                },
            ]
        }
    )

    description: str = Field(default="", max_length=4096, description="What the workflow does and when.")
    tags: list[str] = Field(default_factory=list, max_length=32, description="Free-form tags for search.")
    priority: int = Field(default=0, ge=-100, le=100, description="Tie-breaker between equally ranked templates.")
    match: AlertMatch = Field(default_factory=AlertMatch, description="Which alerts this workflow applies to.")
    target: TargetSpec | None = Field(default=None, description="The object the workflow acts on.")
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Defaults for `vars`, overridable per Remediation.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    allowed_remediation_namespaces: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="ClusterWorkflowTemplate only: namespaces whose Remediations may run it, besides the operator's "
        "own (where its receiver creates them). Empty: only the operator's own.",
    )
    steps: list[Step] = Field(min_length=1, max_length=64, description="The steps, in order.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Time limits.")
    safety: Safety = Field(default_factory=Safety, description="Guard rails.")
    verify: Verify = Field(default_factory=Verify, description="How success is judged.")

    def step(self, name: str) -> Step | None:
        """The step called ``name``, or None."""
        return next((s for s in self.steps if s.name == name), None)


class TemplateStats(SutureModel):
    """Execution statistics and learned effectiveness of a template."""

    runs: int = Field(default=0, ge=0, description="Runs started.")
    succeeded: int = Field(default=0, ge=0, description="Runs whose alert resolved.")
    failed: int = Field(default=0, ge=0, description="Runs that failed or did not resolve the alert.")
    last_run_time: str | None = Field(default=None, description="When the last run started (RFC 3339).")
    effectiveness: float | None = Field(default=None, ge=0, le=1, description="Learned success probability.")
    unknown: int = Field(default=0, ge=0, description="Verified runs with no signal either way (not failures).")
    last_outcome: str | None = Field(default=None, description="The latest verification outcome.")


class WorkflowTemplateStatus(SutureModel):
    """What the operator observed about a template."""

    observed_generation: int | None = Field(default=None, description="The generation last validated.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Valid (True/False) with the reasons; Failing (True while the template keeps failing, "
        "with the evidence) once runs are decided.",
    )
    stats: TemplateStats | None = Field(default=None, description="Execution statistics.")


def spec_hash(spec: WorkflowTemplateSpec) -> str:
    """A template version: sha256 of the spec's canonical JSON, 16 hex digits.

    The one rule for template versions: runs record it (``status.templateVersion.hash``) and ranking compares
    candidates with past outcomes by it. The same steps give the same hash whatever the generation, so an edit
    and its revert are recognised as one version.
    """
    canonical = json.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class _TemplateBase(SutureModel):
    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SCOPE: ClassVar[str]
    # The columns of `kubectl get wft`/`cwft`: validity, and what verification learned (status.stats).
    PRINTER_COLUMNS: ClassVar[list[dict[str, Any]]] = [
        {"name": "Valid", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Valid")].status'},
        {"name": "Runs", "type": "integer", "jsonPath": ".status.stats.runs"},
        {"name": "Effective", "type": "number", "jsonPath": ".status.stats.effectiveness"},
        {"name": "Last", "type": "string", "jsonPath": ".status.stats.lastOutcome"},
        {"name": "Failing", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Failing")].status'},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]

    api_version: Literal["suture.dev/v1alpha1"] = "suture.dev/v1alpha1"
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: WorkflowTemplateSpec
    status: WorkflowTemplateStatus | None = None

    def content_hash(self) -> str:
        """The version of this template: :func:`spec_hash` of its spec (what ``status.templateVersion`` records)."""
        return spec_hash(self.spec)


class WorkflowTemplate(_TemplateBase):
    """A namespaced remediation workflow; it may act only inside its own namespace."""

    KIND: ClassVar[str] = "WorkflowTemplate"
    PLURAL: ClassVar[str] = "workflowtemplates"
    SCOPE: ClassVar[str] = "Namespaced"
    kind: Literal["WorkflowTemplate"] = "WorkflowTemplate"


class ClusterWorkflowTemplate(_TemplateBase):
    """A cluster-wide remediation workflow, for node alerts and cross-namespace work."""

    KIND: ClassVar[str] = "ClusterWorkflowTemplate"
    PLURAL: ClassVar[str] = "clusterworkflowtemplates"
    SCOPE: ClassVar[str] = "Cluster"
    kind: Literal["ClusterWorkflowTemplate"] = "ClusterWorkflowTemplate"


AnyTemplate = WorkflowTemplate | ClusterWorkflowTemplate
__all__ = [
    "END",
    "AlertMatch",
    "AnyTemplate",
    "ClusterWorkflowTemplate",
    "GitOpsMode",
    "Safety",
    "TargetSpec",
    "TemplateStats",
    "Timeouts",
    "Verify",
    "WorkflowTemplate",
    "WorkflowTemplateSpec",
    "WorkflowTemplateStatus",
]
