"""``suture simulate``: the engine's own run of a template, with plan effects; nothing changes.

The template is compiled and run by the engine exactly as the operator runs
it (same graph, same step dispatch, same flow model), with three differences
injected through :class:`~suture.engine.RunDeps`:

- :class:`PlanEffects` instead of a real run's effects: every action is sent
  with server-side dry-run (``dryRun=All``), so the API server validates and
  admits it without persisting, and its answer feeds later steps as a real
  run's would; approvals are assumed granted; waits do not wait; ``wait.until``
  checks and rollout health gates are read once and report what they saw.
- :class:`PlanRecorder` instead of the status sink: it collects every step
  the run went through and builds the :class:`Plan`.
- No sleeping, and an in-memory checkpointer.

Without a cluster nothing can be read or dry-run: actions are reported as
would-run with their resolved parameters, and a condition that needs the
cluster (or Prometheus, or the unresolved target) is assumed not to hold; the
plan says so and names the steps the other branch would have run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from suture.actions import ActionContext, ActionResult, Registry, Risk
from suture.api import AnyTemplate, Check, ClusterWorkflowTemplate, WorkflowTemplateSpec
from suture.engine import (
    ApprovalDecision,
    Look,
    Pause,
    PromQLClient,
    RunDeps,
    RunRequest,
    StepProgress,
    TemplateSource,
    Verdict,
    Watch,
    initial_state,
)
from suture.engine.graph import compile_graph
from suture.errors import SutureError, TargetError
from suture.kube import KubeClient, KubeRequest, KubeResponse
from suture.targets import resolve_target

RUN_ID = "simulate"
ASSUMED_BY = "assumed by suture simulate"


@dataclass
class PlannedStep:
    """What one step would do."""

    path: str  # the step's record name: a step, owner/child in a subflow, child[i] in a foreach, rollout/object
    kind: str
    outcome: str  # would-run, skipped, would-fail, would-wait, would-ask, checks-now (a read-only check failing today)
    detail: str = ""
    params: dict[str, Any] | None = None
    dry_run: dict[str, Any] | None = None  # the action's dry-run answer: changed, message, output (or error)


@dataclass
class Plan:
    """The whole simulated run."""

    template: str
    target: str
    target_chain: list[str] = field(default_factory=list)
    steps: list[PlannedStep] = field(default_factory=list)
    ends: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``--output json``."""
        return asdict(self)


@dataclass
class _Call:
    """One action call the plan effects made (the latest attempt)."""

    action: str
    params: dict[str, Any]
    outcome: str
    answer: dict[str, Any] | None


class PlanEffects:
    """The effects of a simulated run: nothing changes, nobody is asked, nothing is waited for.

    Keeps what each action call answered and what each approval would have
    asked, for :meth:`PlanRecorder.plan`.
    """

    def __init__(self, *, cluster: bool, prometheus: bool) -> None:
        self.cluster = cluster
        self.prometheus = prometheus
        self.calls: dict[str, _Call] = {}  # by label: the step's record name, or rollout/object
        self.asked: dict[str, Mapping[str, Any]] = {}  # approval requests by step

    @property
    def dry_run(self) -> bool:
        """Every action of a plan is a server-side dry-run."""
        return True

    async def invoke(
        self, registry: Registry, name: str, params: Mapping[str, Any], ctx: ActionContext, *, label: str
    ) -> ActionResult:
        """Dry-run the action (or, without a cluster, only record its parameters).

        A read-only action failing is a check of the cluster as it is now; the
        dry-run steps before it changed nothing, so a real run could pass it.
        It is reported (checks-now) and the plan goes on.
        """
        if not self.cluster:
            self.calls[label] = _Call(name, dict(params), "would-run", None)
            return ActionResult(changed=False, message="would run (no cluster to dry-run against)", dry_run=True)
        try:
            result = await registry.invoke(name, params, ctx)
        except SutureError as exc:
            if registry.get(name).risk != Risk.READ_ONLY:
                self.calls[label] = _Call(
                    name, dict(params), "would-fail", {"error": exc.message, "category": str(exc.category)}
                )
                raise
            answer: dict[str, Any] = {"error": f"now: {exc.message}", "category": str(exc.category)}
            self.calls[label] = _Call(name, dict(params), "checks-now", answer)
            return ActionResult(changed=False, message=answer["error"], dry_run=True)
        answer = {"changed": result.changed, "message": result.message, "output": dict(result.output)}
        self.calls[label] = _Call(name, dict(params), "would-run", answer)
        return result

    async def ask(self, request: Mapping[str, Any]) -> Any:
        """Assume the approval is granted (the plan says so)."""
        self.asked[str(request.get("step", ""))] = dict(request)
        return {"decision": "Approved", "by": "", "reason": ASSUMED_BY}

    def _missing(self, check: Check) -> str | None:
        if check.resource is not None and not self.cluster:
            return "it reads the live cluster, and this plan has none (--kubeconfig)"
        if check.promql is not None and not self.prometheus:
            return "it needs Prometheus (--prometheus-url)"
        return None

    async def decide(self, check: Check, look: Look) -> Verdict:
        """Evaluate the check now; when that is impossible, assume it does not hold and say why."""
        why = self._missing(check)
        if why is None:
            try:
                holds, detail = await look()
            except Exception as exc:  # any failure to evaluate is reported, never hidden behind a branch
                why = str(exc) + ("" if self.cluster else " (without a cluster the target is not resolved)")
            else:
                return Verdict(holds, detail)
        return Verdict(False, why, assumed=True)

    async def elapse(self, seconds: float, *, text: str, pause: Pause) -> str:
        """Do not wait."""
        return f"would wait {text}"

    async def until(self, look: Look, *, interval: float, limit: float, limit_text: str, pause: Pause) -> Watch:
        """Read the check once and report it; a real run would poll it."""
        now = await self._look_once(look)
        return Watch(True, f"would wait until the check holds, at most {limit_text}; {now}")

    async def hold(self, look: Look, *, interval: float, duration: float, duration_text: str, pause: Pause) -> Watch:
        """Read the gate once and report it; a real run would watch it for its duration after each wave."""
        now = await self._look_once(look)
        return Watch(True, f"a real run watches this gate for {duration_text}; {now}")

    async def _look_once(self, look: Look) -> str:
        try:
            holds, detail = await look()
        except Exception as exc:  # a check the plan cannot make now is reported, not fatal
            return f"cannot tell now: {exc}"
        return f"now it {'holds' if holds else 'does not hold'}: {detail}"


class PlanRecorder:
    """The progress sink of a simulated run: every step the run went through, in the order they started."""

    def __init__(self) -> None:
        self.records: dict[str, StepProgress] = {}
        self.phase = ""
        self.message = ""

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """Keep the latest run phase."""
        self.phase, self.message = phase, message

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """Keep the latest state of each step (its first report fixes its place in the plan)."""
        self.records[step.name] = step

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """Approvals are assumed; :class:`PlanEffects` keeps what would have been asked."""

    def plan_steps(self, effects: PlanEffects) -> list[PlannedStep]:
        """The planned steps: one per step record, plus one per rollout object and health gate."""
        out: list[PlannedStep] = []
        for name, progress in self.records.items():
            out.append(_planned(progress, effects))
            if progress.kind == "rollout":
                out.extend(_rollout_rows(name, progress, effects, set(self.records)))
        return out

    def ends(self, spec: WorkflowTemplateSpec) -> str:
        """How the run would end: ``completes``, or ``stops at <step> (abort|rollback|cancel)``."""
        if self.phase == "Succeeded":
            return "completes"
        how = {"RolledBack": "rollback", "Cancelled": "cancel"}.get(self.phase, "abort")
        for name, progress in reversed(self.records.items()):
            if progress.phase == "Failed" and spec.step(name) is not None:  # the top-level step that stopped it
                return f"stops at {name} ({how})"
        return f"stops: {self.message}"


def _planned(progress: StepProgress, effects: PlanEffects) -> PlannedStep:
    kind, name, message = progress.kind or "step", progress.name, progress.message
    call = effects.calls.get(name) if kind == "action" else None
    if progress.phase == "Skipped":
        return PlannedStep(name, kind, "skipped", message)
    if call is not None:
        outcome = "would-fail" if progress.phase == "Failed" else call.outcome
        detail = message if message.startswith(f"{call.action}: ") else f"{call.action}: {message}"
        return PlannedStep(name, kind, outcome, detail, params=call.params, dry_run=call.answer)
    if progress.phase == "Failed":
        return PlannedStep(name, kind, "would-fail", message)
    if kind == "approval":
        asked = effects.asked.get(name, {})
        detail = (
            f"would ask: {asked.get('message') or '(no message)'} (timeout {asked.get('timeout', '?')}); "
            "the plan assumes approval"
        )
        return PlannedStep(name, kind, "would-ask", detail)
    if kind == "wait":
        return PlannedStep(name, kind, "would-wait", message)
    return PlannedStep(name, kind, "would-run", message)


def _rollout_rows(name: str, progress: StepProgress, effects: PlanEffects, records: set[str]) -> list[PlannedStep]:
    rows = []
    for label, call in effects.calls.items():
        if label.startswith(name + "/") and label not in records:
            answer = call.answer or {}
            detail = f"{call.action}: {answer.get('message') or answer.get('error') or 'would run'}"
            rows.append(PlannedStep(label, "action", call.outcome, detail, params=call.params, dry_run=call.answer))
    for gate in progress.output.get("gates") or []:
        rows.append(PlannedStep(f"{name}/gate{gate.get('wave')}", "check", "would-run", str(gate.get("detail", ""))))
    return rows


class _NoCluster:
    """The transport of a plan without a cluster: every request is answered 503 in plain words."""

    async def send(self, request: KubeRequest) -> KubeResponse:
        """Refuse: there is no cluster."""
        body = {
            "kind": "Status",
            "status": "Failure",
            "reason": "NoCluster",
            "message": "this plan has no cluster to read (pass --kubeconfig)",
            "code": 503,
        }
        return KubeResponse.json(503, body)

    async def close(self) -> None:
        """Nothing to close."""


async def _instant(_: float) -> None:
    """A plan never sleeps (retry backoff, polling)."""


async def simulate(
    *,
    template: AnyTemplate,
    alert: dict[str, Any],
    registry: Registry,
    kube: KubeClient | None,
    promql: PromQLClient | None = None,
    variables: dict[str, Any] | None = None,
    templates: TemplateSource | None = None,
) -> Plan:
    """The plan of ``template`` for ``alert``: the engine's run with plan effects. Nothing in the cluster changes.

    ``kube`` None plans without a cluster (nothing read, nothing dry-run).
    ``templates`` loads the templates subflow steps name.
    """
    spec = template.spec
    confine = None if isinstance(template, ClusterWorkflowTemplate) else template.metadata.get("namespace")
    plan = Plan(template=str(template.metadata.get("name", "?")), target="(none)")
    target: dict[str, Any] = {}
    if spec.target is not None and kube is None:
        plan.target = f"{spec.target.kind} (not resolved: no cluster)"
    elif spec.target is not None and kube is not None:
        try:
            resolved = await resolve_target(spec.target, alert=alert, kube=kube, confine_to=confine)
        except TargetError as exc:
            plan.target = f"unresolved: {exc}"
        else:
            plan.target = resolved.ref.display()
            plan.target_chain = list(resolved.chain)
            target = dict(resolved.object)
    effects = PlanEffects(cluster=kube is not None, prometheus=promql is not None)
    recorder = PlanRecorder()
    deps = RunDeps(
        registry=registry,
        kube=kube if kube is not None else KubeClient(_NoCluster()),
        sink=recorder,
        promql=promql,
        templates=templates,
        sleep=_instant,
        effects=effects,
    )
    request = RunRequest(
        run_id=RUN_ID,
        template=spec,
        alert=alert,
        target=target,
        variables=variables or {},
        dry_run=True,
        namespace=confine,
        remediation="simulate/simulate",
    )
    graph = compile_graph(spec=spec, deps=deps, checkpointer=InMemorySaver())
    await graph.ainvoke(initial_state(request), {"configurable": {"thread_id": RUN_ID}})
    plan.steps = recorder.plan_steps(effects)
    plan.ends = recorder.ends(spec)
    return plan
