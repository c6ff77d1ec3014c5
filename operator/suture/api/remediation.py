"""Remediation: one run of a template for one alert occurrence."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from suture.api.base import Condition, SutureModel

Phase = Literal[
    "Pending", "Running", "WaitingApproval", "Paused", "Verifying", "Succeeded", "Failed", "RolledBack", "Cancelled"
]
TERMINAL_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "RolledBack", "Cancelled"})
SETTLED_PHASES: frozenset[str] = TERMINAL_PHASES | {"Verifying"}
"""Phases in which a run has nothing left to stop or undo: deleting its Remediation needs no operator.

A Remediation carries the operator's finalizer only outside these phases, so
deleting a finished one (or its namespace) never waits for an operator that
has been uninstalled; a run that may still act, or roll back, keeps it.
"""
StepPhase = Literal["Pending", "Running", "WaitingApproval", "Succeeded", "Failed", "Skipped", "RolledBack"]
Decision = Literal["Pending", "Approved", "Rejected"]
# Pending while Verifying; Effective / Ineffective / Unknown are what the recommender learns from
# (Unknown teaches nothing); Skipped: nothing to verify (a dry run changed nothing).
Outcome = Literal["Pending", "Effective", "Ineffective", "Unknown", "Skipped"]


class TemplateRef(SutureModel):
    """Which template a Remediation runs."""

    name: str = Field(min_length=1, max_length=253, description="Template name.")
    kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = Field(
        default="WorkflowTemplate",
        description="WorkflowTemplate (same namespace) or ClusterWorkflowTemplate.",
    )


class AlertInfo(SutureModel):
    """The alert occurrence a Remediation answers, as Alertmanager described it."""

    name: str = Field(default="", max_length=253, description="The alertname label.")
    labels: dict[str, str] = Field(default_factory=dict, description="Alert labels (untrusted input).")
    annotations: dict[str, str] = Field(default_factory=dict, description="Alert annotations (untrusted input).")
    fingerprint: str = Field(default="", max_length=64, description="Alertmanager's fingerprint of the labels.")
    starts_at: str | None = Field(default=None, description="When the alert started firing (RFC 3339).")
    generator_url: str | None = Field(default=None, max_length=2048, description="Link to the alert's source.")


class ObjectRef(SutureModel):
    """A resolved Kubernetes object."""

    api_version: str = Field(description="apiVersion, e.g. apps/v1.")
    kind: str = Field(description="Kind, e.g. Deployment.")
    namespace: str | None = Field(default=None, description="Namespace; empty for cluster-scoped objects.")
    name: str = Field(description="Name.")
    uid: str | None = Field(default=None, description="UID at resolution time, to act on exactly this object.")

    def display(self) -> str:
        """``Kind/namespace/name`` for messages."""
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


class ApprovalRequest(SutureModel):
    """A person's answer to an approval, written to the spec by kubectl patch or suture approve."""

    decision: Decision = Field(default="Pending", description="Approved or Rejected; Pending until answered.")
    step: str = Field(
        default="",
        max_length=512,
        description="The approval this answers (status.approval.step while it is Pending). An answer for an "
        "approval not asked yet is kept for it; it never passes a different one.",
    )
    reason: str = Field(default="", max_length=1024, description="Why, in the approver's words.")
    by: str = Field(
        default="",
        max_length=253,
        description="Who answered. Stamped by the API server (admission policy) with the authenticated user "
        "whenever the approval changes; anything written here by hand is overwritten.",
    )


class RemediationSpec(SutureModel):
    """What to run, for which alert, on which object."""

    template_ref: TemplateRef = Field(description="The template to run.")
    alert: AlertInfo = Field(default_factory=AlertInfo, description="The alert occurrence.")
    target: ObjectRef | None = Field(default=None, description="The object to act on; resolved from the alert.")
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the template's variables.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    dry_run: bool = Field(default=False, description="Run every action with server-side dry-run only.")
    approval: ApprovalRequest | None = Field(default=None, description="The answer to a pending approval.")
    cancel: bool = Field(default=False, description="Stop at the next step boundary.")
    paused: bool = Field(
        default=False,
        description="Pause at the next step boundary (phase Paused, nothing undone); false again continues "
        "where the run stopped.",
    )
    retry: int = Field(
        default=0,
        ge=0,
        description="Retries asked for: set it above the number of status.retries to run a Failed run again "
        "from the step that failed (suture retry does).",
    )


class StepStatus(SutureModel):
    """Progress of one step."""

    name: str = Field(description="Step name.")
    phase: StepPhase = Field(default="Pending", description="Where the step is.")
    attempts: int = Field(default=0, ge=0, description="Attempts made.")
    start_time: str | None = Field(default=None, description="First attempt began (RFC 3339).")
    end_time: str | None = Field(default=None, description="Finished (RFC 3339).")
    message: str = Field(default="", description="What happened, in plain words.")
    output: dict[str, Any] = Field(
        default_factory=dict,
        description="The step's small structured result; later steps read it as steps.<name>.output.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class Alternative(SutureModel):
    """A template that was considered and not chosen."""

    template: str = Field(description="Template name.")
    score: float = Field(description="Its ranking score.")
    reason: str = Field(default="", description="Why it ranked where it did.")


class ContextFeature(SutureModel):
    """One live-context feature and how much it weighs in the alert's family."""

    feature: str = Field(description="The feature, e.g. reason=OOMKilled, exit=137, restarts=4-10, node=DiskPressure.")
    weight: float = Field(description="Its learned weight in this alert family (1.0 before any outcome of it).")


class LiveContext(SutureModel):
    """What the receiver read from the alert's live target when it ranked it; learning reads it back."""

    termination_reason: str | None = Field(
        default=None, description="The last termination reason of the target's containers, e.g. OOMKilled."
    )
    exit_code: int | None = Field(default=None, description="That termination's exit code, e.g. 137.")
    restarts: int | None = Field(default=None, ge=0, description="Container restarts of the target pod.")
    recent_rollout: bool | None = Field(
        default=None, description="Whether the workload rolled out recently (ReplicaSet created, or progressing)."
    )
    node_conditions: list[str] = Field(
        default_factory=list, description="Node conditions that are not as they should be, e.g. MemoryPressure."
    )
    extra: dict[str, str] = Field(default_factory=dict, description="Any other context fact, as key and value.")
    features: list[ContextFeature] = Field(
        default_factory=list, description="The facts as ranking features, with the weights they had in this choice."
    )


LIVE_CONTEXT_KEY = "liveContext"
"""Where an alert dict (the receiver's ranking input, :func:`suture.runs.alert_of`'s output) carries the live
context of its target, in :class:`LiveContext`'s shape, so ranking and learning see the same facts."""


class Recommendation(SutureModel):
    """Why this template was chosen for this alert."""

    template: str = Field(description="The chosen template.")
    score: float = Field(description="Its ranking score.")
    confidence: float | None = Field(default=None, ge=0, le=1, description="How sure the ranking is.")
    reasons: list[str] = Field(default_factory=list, description="Plain-words explanation.")
    alternatives: list[Alternative] = Field(default_factory=list, description="The runners-up.")
    context: LiveContext | None = Field(
        default=None, description="The live context of the alert's target the ranking saw (none when unread)."
    )


class Verification(SutureModel):
    """Did the alert really resolve after the run?"""

    outcome: Outcome = Field(
        default="Pending", description="Effective, Ineffective, Unknown, Skipped, or Pending while Verifying."
    )
    deadline: str | None = Field(
        default=None, description="When the window ends: still firing then is Ineffective (RFC 3339)."
    )
    checked_at: str | None = Field(default=None, description="When it was decided (RFC 3339).")
    resolved_at: str | None = Field(default=None, description="When the alert was seen resolved (RFC 3339).")
    time_to_resolve_seconds: float | None = Field(
        default=None, ge=0, description="Seconds from the run's completion to the alert's resolution."
    )
    message: str = Field(default="", description="How it was decided.")


class ApprovalRecord(SutureModel):
    """Who answered an approval, as the API server authenticated them."""

    decision: Decision = Field(description="The decision; Pending while the run waits for it.")
    step: str = Field(default="", description="Which approval: the step, or <rollout step>@wave<N>.")
    by: str = Field(default="", description="The authenticated user who made it.")
    at: str | None = Field(default=None, description="When (RFC 3339).")
    reason: str = Field(default="", description="Their reason.")


class AlertStatus(SutureModel):
    """What Alertmanager said about the alert after the Remediation was created."""

    resolved_at: str | None = Field(default=None, description="When Alertmanager reported it resolved (RFC 3339).")


class RelatedAlert(SutureModel):
    """Another alert occurrence on the same target, recorded instead of starting a second run."""

    name: str = Field(default="", max_length=253, description="Its alertname label.")
    fingerprint: str = Field(default="", max_length=64, description="Alertmanager's fingerprint.")
    starts_at: str | None = Field(default=None, description="When it started firing (RFC 3339).")
    received_at: str | None = Field(default=None, description="When the receiver recorded it (RFC 3339).")
    labels: dict[str, str] = Field(default_factory=dict, description="Its labels (untrusted input).")


class RetryRecord(SutureModel):
    """One retry of a Failed run, from the step that failed."""

    attempt: int = Field(ge=2, description="The attempt it started: 2 for the first retry.")
    step: str = Field(description="The step it started from (the steps before it were kept).")
    time: str | None = Field(default=None, description="When it started (RFC 3339).")
    previous_message: str = Field(default="", max_length=4096, description="Why the attempt before it failed.")


class TemplateVersion(SutureModel):
    """Which version of its template a run ran."""

    generation: int | None = Field(default=None, description="The template's metadata.generation when accepted.")
    hash: str = Field(default="", max_length=64, description="Hash of the template's spec content (16 hex digits).")


class RemediationStatus(SutureModel):
    """What the operator did and learned."""

    phase: Phase = Field(default="Pending", description="Where the run is.")
    target: ObjectRef | None = Field(default=None, description="The object the run acts on, as resolved.")
    message: str = Field(default="", description="The latest news in plain words.")
    start_time: str | None = Field(default=None, description="Run start (RFC 3339).")
    completion_time: str | None = Field(default=None, description="Run end (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="The generation last acted on.")
    steps: list[StepStatus] = Field(default_factory=list, description="Per-step progress.")
    recommendation: Recommendation | None = Field(default=None, description="The ranking behind the choice.")
    verification: Verification | None = Field(default=None, description="The verification outcome.")
    approval: ApprovalRecord | None = Field(default=None, description="The recorded approval decision.")
    undone: list[str] = Field(default_factory=list, description="Steps whose changes were rolled back, in order.")
    conditions: list[Condition] = Field(default_factory=list, description="Standard conditions.")
    alert: AlertStatus | None = Field(default=None, description="The alert's later news (resolution).")
    related_alerts: list[RelatedAlert] = Field(
        default_factory=list, max_length=100, description="Other alerts on the same target while this one was active."
    )
    template_version: TemplateVersion | None = Field(
        default=None, description="The template version the run was accepted with (its checkpoint keeps that spec)."
    )
    retries: list[RetryRecord] = Field(
        default_factory=list, max_length=100, description="Retries of the run from a failed step, in order."
    )


class Remediation(SutureModel):
    """One run of a template for one alert occurrence (or on demand)."""

    KIND: ClassVar[str] = "Remediation"
    PLURAL: ClassVar[str] = "remediations"
    SCOPE: ClassVar[str] = "Namespaced"
    # The columns of `kubectl get rem`. Only fields the operator writes.
    PRINTER_COLUMNS: ClassVar[list[dict[str, Any]]] = [
        {"name": "Alert", "type": "string", "jsonPath": ".spec.alert.name"},
        {"name": "Template", "type": "string", "jsonPath": ".spec.templateRef.name"},
        {"name": "Target", "type": "string", "jsonPath": ".status.target.name"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Outcome", "type": "string", "jsonPath": ".status.verification.outcome"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    model_config = ConfigDict(title="Remediation")

    api_version: Literal["suture.dev/v1alpha1"] = "suture.dev/v1alpha1"
    kind: Literal["Remediation"] = "Remediation"
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: RemediationSpec
    status: RemediationStatus | None = None
