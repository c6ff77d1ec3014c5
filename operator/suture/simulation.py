"""``suture simulate``: the plan the engine would run, without changing anything.

The simulator walks the template's flow once. Branch checks are evaluated
once against the cluster as it is now; every parameter is resolved; every
action runs with server-side dry-run (``dryRun=All``), so the API server
validates and admits it without persisting, and its output feeds later steps
exactly as a real run's would. Waits are not waited and approvals are assumed
granted: the plan says so. Without a cluster the plan is static: parameters
that need the target stay unresolved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from suture.actions import ActionContext, ActionError, Registry, Risk
from suture.api import END, AnyTemplate, ClusterWorkflowTemplate, Step
from suture.engine.actioncall import fill_target_defaults
from suture.engine.conditions import PromQLClient, evaluate_check
from suture.engine.rollout import wave_sizes
from suture.expr import ExpressionError, evaluate_bool, resolve_value
from suture.flow import build_flow, first_step, successor
from suture.kube import ApiError, KubeClient
from suture.targets import TargetError, resolve_target

MAX_FOREACH_SHOWN = 10


@dataclass
class PlannedStep:
    """What one step would do."""

    path: str  # the step's name, or owner/child for steps run inside another
    kind: str
    outcome: str  # would-run, skipped, would-fail, would-wait, would-ask, checks-now (a read-only check failing today)
    detail: str = ""
    params: dict[str, Any] | None = None
    dry_run: dict[str, Any] | None = None  # the action's dry-run answer: changed, message, output


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


async def _sleep(_: float) -> None:
    """Simulation never waits."""


def _now() -> datetime:
    return datetime.now(UTC)


class Simulator:
    """Plans one template for one alert."""

    def __init__(
        self, *, template: AnyTemplate, registry: Registry, kube: KubeClient | None, promql: PromQLClient | None
    ) -> None:
        self.template = template
        self.spec = template.spec
        self.registry = registry
        self.kube = kube
        self.promql = promql
        self.confine = None if isinstance(template, ClusterWorkflowTemplate) else template.metadata.get("namespace")
        self.by_name = {s.name: s for s in self.spec.steps}
        self.plan = Plan(template=str(template.metadata.get("name", "?")), target="(none)")
        self.context: dict[str, Any] = {}

    async def run(self, *, alert: dict[str, Any], variables: dict[str, Any]) -> Plan:
        """Build the plan."""
        self.context = {"alert": alert, "target": {}, "vars": {**self.spec.variables, **variables}, "steps": {}}
        await self._resolve_target(alert)
        flow = build_flow(self.spec.steps)
        node = first_step(flow)
        seen: set[str] = set()
        while node != END and node not in seen:
            seen.add(node)
            step = self.by_name[node]
            outcome, branch = await self._step(step, step.name)
            if outcome == "would-fail" and step.on_failure != "continue":
                self.plan.ends = f"stops at {step.name} ({'rollback' if step.on_failure == 'rollback' else 'abort'})"
                return self.plan
            node = branch or successor(flow, node)
        self.plan.ends = "completes"
        return self.plan

    async def _resolve_target(self, alert: dict[str, Any]) -> None:
        target = self.spec.target
        if target is None:
            return
        if self.kube is None:
            self.plan.target = f"{target.kind} (not resolved: no cluster)"
            return
        try:
            resolved = await resolve_target(target, alert=alert, kube=self.kube, confine_to=self.confine)
        except TargetError as exc:
            self.plan.target = f"unresolved: {exc}"
            return
        self.plan.target = resolved.ref.display()
        self.plan.target_chain = list(resolved.chain)
        self.context["target"] = resolved.object

    def _record(self, path: str, kind: str, outcome: str, detail: str, **extra: Any) -> None:
        self.plan.steps.append(PlannedStep(path=path, kind=kind, outcome=outcome, detail=detail, **extra))

    async def _step(self, step: Step, path: str) -> tuple[str, str | None]:
        """Plan one step; returns its outcome and the branch a condition selects."""
        if step.when:
            try:
                if not evaluate_bool(step.when, self.context):
                    self._record(path, step.kind, "skipped", f"when {step.when!r} is false")
                    return "skipped", None
            except ExpressionError as exc:
                self._record(path, step.kind, "would-fail", str(exc))
                return "would-fail", None
        handler = getattr(self, f"_plan_{step.kind}")
        result: tuple[str, str | None] = await handler(step, path)
        return result

    async def _check(self, check: Any) -> tuple[bool | None, str]:
        if self.kube is None and check.resource is not None:
            return None, "needs a cluster"
        if self.promql is None and check.promql is not None:
            return None, "needs Prometheus (--prometheus-url)"
        try:
            holds, why = await evaluate_check(
                check,
                context=self.context,
                kube=self.kube,  # type: ignore[arg-type]
                promql=self.promql,
                clock=_now,
                sleep=_sleep,
                interval=0.0,
            )
        except (ActionError, ExpressionError, ApiError) as exc:
            return None, str(exc)
        return holds, why

    async def _dry_run(
        self, name: str, params: Any, source: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
        spec = self.registry.get(name)
        filled = fill_target_defaults(spec, params, source, namespace=self.confine)
        if self.kube is None:
            return "would-run", None, filled
        ctx = ActionContext(
            kube=self.kube, dry_run=True, allowed_namespace=self.confine, remediation="simulate/simulate"
        )
        try:
            result = await self.registry.invoke(name, filled, ctx)
        except ActionError as exc:
            if spec.risk == Risk.READ_ONLY:
                # A check of the cluster as it is now: the dry-run steps before it changed nothing,
                # so a real run could well pass it. Report it, don't end the plan on it.
                return "checks-now", {"error": f"now: {exc.message}", "category": str(exc.category)}, filled
            return "would-fail", {"error": exc.message, "category": str(exc.category)}, filled
        return "would-run", {"changed": result.changed, "message": result.message, "output": result.output}, filled

    async def _plan_action(self, step: Step, path: str) -> tuple[str, str | None]:
        assert step.action is not None
        try:
            params = resolve_value(step.action.params, self.context)
        except ExpressionError as exc:
            self._record(path, "action", "would-fail", f"{step.action.name}: {exc}")
            return "would-fail", None
        source = self.context.get("item") if isinstance(self.context.get("item"), dict) else self.context["target"]
        outcome, answer, filled = await self._dry_run(step.action.name, params, source or {})
        detail = step.action.name + (f": {answer.get('message') or answer.get('error')}" if answer else "")
        self._record(path, "action", outcome, detail, params=filled, dry_run=answer)
        output = (answer or {}).get("output") or {}
        self.context["steps"][step.name] = {
            "output": output,
            "phase": "Failed" if outcome == "would-fail" else "Succeeded",
        }
        return outcome, None

    async def _plan_condition(self, step: Step, path: str) -> tuple[str, str | None]:
        assert step.condition is not None
        holds, why = await self._check(step.condition.check)
        if holds is None:
            self._record(path, "condition", "would-run", f"cannot evaluate now ({why}); following else")
        branch = step.condition.then if holds else step.condition.else_
        label = "then" if holds else "else"
        if holds is not None:
            self._record(path, "condition", "would-run", f"{why} -> {label}: {branch or 'next step'}")
        self.context["steps"][step.name] = {"output": {"result": bool(holds)}, "phase": "Succeeded"}
        return "would-run", branch

    async def _plan_wait(self, step: Step, path: str) -> tuple[str, str | None]:
        wait = step.wait
        assert wait is not None
        if wait.duration:
            self._record(path, "wait", "would-wait", f"would wait {wait.duration}")
        else:
            holds, why = await self._check(wait.until)
            now = "holds now" if holds else ("does not hold now" if holds is False else "cannot tell now")
            self._record(
                path, "wait", "would-wait", f"would wait until the check holds ({why}; {now}), at most {wait.timeout}"
            )
        self.context["steps"][step.name] = {"output": {}, "phase": "Succeeded"}
        return "would-wait", None

    async def _plan_approval(self, step: Step, path: str) -> tuple[str, str | None]:
        assert step.approval is not None
        self._record(
            path,
            "approval",
            "would-ask",
            f"would ask: {step.approval.message or '(no message)'} "
            f"(timeout {step.approval.timeout}); the plan assumes approval",
        )
        self.context["steps"][step.name] = {"output": {"decision": "Approved"}, "phase": "Succeeded"}
        return "would-ask", None

    async def _plan_parallel(self, step: Step, path: str) -> tuple[str, str | None]:
        assert step.parallel is not None
        self._record(path, "parallel", "would-run", f"runs {', '.join(step.parallel.steps)} at once")
        worst = "would-run"
        for child in step.parallel.steps:
            outcome, _ = await self._step(self.by_name[child], f"{path}/{child}")
            worst = "would-fail" if outcome == "would-fail" else worst
        return worst, None

    async def _plan_foreach(self, step: Step, path: str) -> tuple[str, str | None]:
        foreach = step.foreach
        assert foreach is not None
        try:
            items = resolve_value(foreach.items, self.context)
        except ExpressionError as exc:
            self._record(path, "foreach", "would-fail", str(exc))
            return "would-fail", None
        if not isinstance(items, list):
            self._record(path, "foreach", "would-fail", f"items is {type(items).__name__}, not a list")
            return "would-fail", None
        self._record(path, "foreach", "would-run", f"{len(items)} item(s), {foreach.max_concurrency} at a time")
        worst = "would-run"
        for index, item in enumerate(items[:MAX_FOREACH_SHOWN]):
            self.context[foreach.as_] = item
            self.context["item"] = item
            outcome, _ = await self._step(self.by_name[foreach.step], f"{path}[{index}]/{foreach.step}")
            worst = "would-fail" if outcome == "would-fail" else worst
        self.context.pop(foreach.as_, None)
        self.context.pop("item", None)
        return worst, None

    async def _plan_rollout(self, step: Step, path: str) -> tuple[str, str | None]:
        rollout = step.rollout
        assert rollout is not None
        if self.kube is None:
            self._record(
                path,
                "rollout",
                "would-run",
                f"waves {rollout.waves} over {rollout.targets.kind} objects (needs a cluster to list them)",
            )
            return "would-run", None
        namespace = rollout.targets.namespace or (self.context["target"].get("metadata") or {}).get("namespace")
        namespace = namespace or self.confine
        objects = await self.kube.list(
            rollout.targets.kind,
            namespace,
            api_version=rollout.targets.api_version,
            label_selector=rollout.targets.selector.to_query() or None,
        )
        objects.sort(key=lambda o: o["metadata"]["name"])
        sizes = wave_sizes(len(objects), rollout.waves)
        self._record(path, "rollout", "would-run", f"{len(objects)} object(s) in waves of {sizes} (cumulative)")
        worst = "would-run"
        for index, obj in enumerate(objects):
            obj.setdefault("kind", rollout.targets.kind)
            self.context["item"] = obj
            wave = next(i for i, size in enumerate(sizes) if index < size) + 1
            try:
                params = resolve_value(rollout.action.params, self.context)
            except ExpressionError as exc:
                self._record(f"{path}/wave{wave}", "action", "would-fail", str(exc))
                worst = "would-fail"
                continue
            outcome, answer, filled = await self._dry_run(rollout.action.name, params, obj)
            worst = "would-fail" if outcome == "would-fail" else worst
            detail = f"{obj['metadata']['name']}: " + (
                (answer or {}).get("message") or (answer or {}).get("error") or rollout.action.name
            )
            self._record(f"{path}/wave{wave}", "action", outcome, detail, params=filled, dry_run=answer)
        self.context.pop("item", None)
        if rollout.health_gate is not None:
            holds, why = await self._check(rollout.health_gate.check)
            self._record(
                f"{path}/gate",
                "check",
                "would-run",
                f"health gate for {rollout.health_gate.duration} "
                f"after each wave; now: {why}" + ("" if holds is not False else " (would fail now)"),
            )
        return worst, None

    async def _plan_subflow(self, step: Step, path: str) -> tuple[str, str | None]:
        assert step.subflow is not None
        self._record(
            path,
            "subflow",
            "would-run",
            f"runs {step.subflow.kind} {step.subflow.template!r} (plan it with its own `suture simulate`)",
        )
        return "would-run", None


async def simulate(
    *,
    template: AnyTemplate,
    alert: dict[str, Any],
    registry: Registry,
    kube: KubeClient | None,
    promql: PromQLClient | None = None,
    variables: dict[str, Any] | None = None,
) -> Plan:
    """The plan of ``template`` for ``alert``; nothing in the cluster changes."""
    sim = Simulator(template=template, registry=registry, kube=kube, promql=promql)
    return await sim.run(alert=alert, variables=variables or {})
