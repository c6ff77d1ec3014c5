"""Workflow steps.

A template's steps are one flat list of named steps. Control flow is a graph
over their names, which keeps the CRD schema non-recursive (the API server
cannot express recursive schemas) and lets ``suture validate`` reason about it:

- Top-level steps run in list order: after a step comes the next top-level
  step, unless the step names another with ``next`` (or ``end`` to stop).
- A ``condition`` step jumps to ``then`` when its check holds, to ``else``
  otherwise; a branch left empty falls through to the step's successor.
- ``parallel`` and ``foreach`` *own* the steps they name: those run only as
  part of their owner and are skipped by the top-level flow.

The flow must be acyclic (loops are written as ``wait`` with ``until`` or as
``retry``) and every top-level step must be reachable from the first.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from suture.api.base import Duration, LabelSelector, StepName, SutureModel
from suture.api.checks import Check

OnFailure = Literal["abort", "continue", "rollback"]
END = "end"  # reserved step name: `next: end` / `then: end` stop the run successfully

STEP_KINDS = ("action", "condition", "parallel", "wait", "approval", "rollout", "foreach", "subflow")


class RetryPolicy(SutureModel):
    """Retry a failed step with capped exponential backoff when a retry can help (transient, conflict, timeout)."""

    limit: int = Field(default=0, ge=0, le=20, description="Retries after the first attempt.")
    backoff: Duration = Field(default="5s", description="Delay before the first retry.")
    factor: float = Field(default=2.0, ge=1.0, le=10.0, description="Each delay is the previous one times this.")
    max_backoff: Duration = Field(default="5m", description="No delay is longer than this.")


class ActionCall(SutureModel):
    """Call one action of the registry with parameters."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=63, description="Action name, e.g. scale_deployment.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters: literals, ${{ lookup }} of alert/target/vars/steps/item, or ${{ CEL }}.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class ConditionStep(SutureModel):
    """Branch on a check: jump to ``then`` when it holds, to ``else`` when not."""

    check: Check = Field(description="What to evaluate.")
    then: StepName | None = Field(default=None, description="Step to run when the check holds.")
    else_: StepName | None = Field(default=None, alias="else", description="Step to run when it does not.")


class ParallelStep(SutureModel):
    """Run the named steps at the same time; they belong to this step."""

    steps: list[StepName] = Field(min_length=2, max_length=20, description="Names of the steps to run together.")
    fail_fast: bool = Field(default=True, description="Cancel the others as soon as one fails.")


class WaitStep(SutureModel):
    """Wait a fixed duration, or until a check holds (failing at timeout)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.duration) != has(self.until)",
                    "message": "set exactly one of duration or until",
                }
            ]
        }
    )

    duration: Duration | None = Field(default=None, description="Sleep this long.")
    until: Check | None = Field(default=None, description="Poll this check until it holds.")
    interval: Duration = Field(default="10s", description="How often `until` is evaluated.")
    timeout: Duration = Field(default="10m", description="Give up on `until` after this long.")

    @model_validator(mode="after")
    def _one_mode(self) -> WaitStep:
        if (self.duration is None) == (self.until is None):
            raise ValueError("set exactly one of duration or until")
        return self


class ApprovalStep(SutureModel):
    """Pause until a person approves or rejects the Remediation."""

    message: str = Field(default="", max_length=1024, description="What the approver is asked.")
    timeout: Duration = Field(default="1h", description="The run fails when nobody answers in time.")


class HealthGate(SutureModel):
    """A check that must keep holding for a duration after each rollout wave."""

    check: Check = Field(description="The health condition.")
    duration: Duration = Field(default="1m", description="How long the check must hold.")
    interval: Duration = Field(default="10s", description="How often it is evaluated.")


class RolloutTargets(SutureModel):
    """The objects a rollout changes, selected by labels."""

    api_version: str = Field(default="apps/v1", description="apiVersion of the objects.")
    kind: str = Field(min_length=1, description="Kind of the objects, e.g. Deployment or Node.")
    namespace: str | None = Field(default=None, description="Namespace; the target's when empty.")
    selector: LabelSelector = Field(description="Label selector choosing the objects.")


class RolloutStep(SutureModel):
    """Apply an action to the selected objects in waves with a health gate after each."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.waves.all(w, w >= 1 && w <= 100) && self.waves[size(self.waves) - 1] == 100",
                    "message": "waves are percentages from 1 to 100 and the last wave must be 100",
                },
                {
                    "rule": "size(self.waves) < 2 || self.waves.all(w, self.waves.exists_one(v, v == w))",
                    "message": "waves must not repeat",
                },
            ]
        }
    )

    targets: RolloutTargets = Field(description="What to roll out to.")
    waves: list[int] = Field(
        default_factory=lambda: [10, 50, 100],
        min_length=1,
        max_length=10,
        description="Cumulative percentages of the targets per wave, increasing, ending at 100.",
    )
    action: ActionCall = Field(description="The action applied to each object; `item` is the object.")
    health_gate: HealthGate | None = Field(default=None, description="Checked after every wave.")
    approve_between_waves: bool = Field(default=False, description="Ask a person before each wave after the first.")

    @model_validator(mode="after")
    def _waves(self) -> RolloutStep:
        if any(not 1 <= w <= 100 for w in self.waves) or self.waves[-1] != 100:
            raise ValueError("waves are percentages from 1 to 100 and the last wave must be 100")
        if any(b <= a for a, b in zip(self.waves, self.waves[1:], strict=False)):
            raise ValueError("waves must increase strictly")
        return self


class ForeachStep(SutureModel):
    """Run one step once for every element of a list from the context."""

    items: str = Field(min_length=1, max_length=2048, description="${{ }} expression that yields a list.")
    step: StepName = Field(description="The step run per element; it belongs to this step.")
    as_: StepName = Field(default="item", alias="as", description="Name the element is bound to.")
    max_concurrency: int = Field(default=1, ge=1, le=50, description="Elements processed at once.")
    max_items: int = Field(default=100, ge=1, le=1000, description="Refuse lists longer than this.")
    fail_fast: bool = Field(default=True, description="Stop at the first failed element.")


class SubflowStep(SutureModel):
    """Run another template as part of this run."""

    template: str = Field(min_length=1, max_length=253, description="Name of the template to run.")
    kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = Field(
        default="WorkflowTemplate", description="Which kind of template `template` names."
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Variables passed to the subflow.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


EXACTLY_ONE_KIND_RULE: JsonDict = {
    "rule": "[" + ", ".join(f"has(self.{k})" for k in STEP_KINDS) + "].filter(x, x).size() == 1",
    "message": "a step sets exactly one of " + ", ".join(STEP_KINDS),
}


class Step(SutureModel):
    """One named step: exactly one of the step kinds, plus guards and failure handling."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [EXACTLY_ONE_KIND_RULE]})

    name: StepName = Field(description="Unique name within the template; `end` is reserved.")
    description: str = Field(default="", max_length=1024, description="What the step is for.")
    when: str | None = Field(default=None, max_length=2048, description="CEL guard; the step is skipped if false.")
    timeout: Duration | None = Field(default=None, description="Per-attempt limit; the template default when empty.")
    retry: RetryPolicy | None = Field(default=None, description="Retries of transient failures.")
    on_failure: OnFailure = Field(default="abort", description="abort the run, continue, or rollback and stop.")
    next: StepName | None = Field(default=None, description="Step to go to afterwards (`end` stops the run).")

    action: ActionCall | None = None
    condition: ConditionStep | None = None
    parallel: ParallelStep | None = None
    wait: WaitStep | None = None
    approval: ApprovalStep | None = None
    rollout: RolloutStep | None = None
    foreach: ForeachStep | None = None
    subflow: SubflowStep | None = None

    @property
    def kind(self) -> str:
        """The step kind, e.g. ``action``."""
        for name in STEP_KINDS:
            if getattr(self, name) is not None:
                return name
        return "none"

    def body(self) -> SutureModel:
        """The kind-specific part of the step."""
        value = getattr(self, self.kind)
        assert isinstance(value, SutureModel)
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Step:
        chosen = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"a step sets exactly one of {', '.join(STEP_KINDS)}"
                + (f" (got {', '.join(chosen)})" if chosen else " (got none)")
            )
        return self

    def references(self) -> list[tuple[str, str]]:
        """Every (field path relative to the step, step name) this step points at."""
        refs: list[tuple[str, str]] = []
        if self.next:
            refs.append(("next", self.next))
        if self.condition is not None:
            if self.condition.then:
                refs.append(("condition.then", self.condition.then))
            if self.condition.else_:
                refs.append(("condition.else", self.condition.else_))
        if self.parallel is not None:
            refs.extend((f"parallel.steps[{i}]", n) for i, n in enumerate(self.parallel.steps))
        if self.foreach is not None:
            refs.append(("foreach.step", self.foreach.step))
        return refs

    def owned(self) -> list[str]:
        """Names of the steps that run only as part of this one."""
        if self.parallel is not None:
            return list(self.parallel.steps)
        if self.foreach is not None:
            return [self.foreach.step]
        return []
