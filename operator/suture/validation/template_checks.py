"""Checks beyond the schema: graph shape, expressions, actions, namespaces, timeouts.

Every check returns Problems with field paths relative to the document, so the
same function serves ``suture validate`` and the operator's Valid condition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from suture.actions import Registry, Risk
from suture.api import (
    CLUSTER_SCOPED_KINDS,
    END,
    ActionCall,
    AnyTemplate,
    Check,
    ClusterWorkflowTemplate,
    Step,
    parse_duration,
)
from suture.errors import PathError
from suture.expr import (
    CONTEXT_ROOTS,
    ExpressionError,
    expressions_in,
    is_expression,
    parse_path,
    referenced_roots,
    walk_strings,
)
from suture.flow import build_flow, ownership_cycle
from suture.prometheus import LabelMatcher, with_matchers
from suture.validation.problems import Problem, join_path
from suture.validation.schema import problems_from

# What a verify.promql matcher may look up: verification has no steps, items or run variables.
VERIFY_ROOTS = frozenset({"alert", "target"})
# Action parameters the engine fills from the resolved target when a step leaves them out.
TARGET_DEFAULTED = frozenset({"namespace", "name", "node"})


def check_template(
    template: AnyTemplate, registry: Registry | None, *, prometheus: bool | None = None
) -> list[Problem]:
    """Every semantic problem of a parsed template (schema problems come from parsing).

    ``prometheus``: whether the operator has a Prometheus (False warns about
    PromQL checks it could not ask; None: not known here, no warning).
    """
    spec = template.spec
    problems: list[Problem] = []
    problems += _names_and_references(spec.steps)
    if not any(p.severity == "error" for p in problems):
        problems += _flow(spec.steps)
    problems += _expressions(template)
    if registry is not None:
        problems += _actions(template, registry)
    problems += _namespace_confinement(template)
    problems += _timeouts(template)
    problems += _verify_promql(template, prometheus=prometheus)
    return problems


def _step_path(index: int, *rest: str | int) -> str:
    return join_path("spec", "steps", index, *rest)


def _names_and_references(steps: list[Step]) -> list[Problem]:
    problems = []
    counts = Counter(s.name for s in steps)
    index_of: dict[str, int] = {}
    for i, step in enumerate(steps):
        index_of.setdefault(step.name, i)  # later duplicates are the ones reported
    for i, step in enumerate(steps):
        if step.name == END:
            problems.append(Problem(_step_path(i, "name"), "'end' is reserved (it means: stop the run)"))
        elif counts[step.name] > 1 and index_of[step.name] != i:
            problems.append(Problem(_step_path(i, "name"), f"duplicate step name {step.name!r}"))
        for rel, ref in step.references():
            if ref == END and rel in ("next", "condition.then", "condition.else"):
                continue
            if ref not in index_of:
                known = ", ".join(s.name for s in steps)
                problems.append(Problem(_step_path(i, *rel.split(".")), f"no step named {ref!r} (steps: {known})"))
            elif ref == step.name:
                problems.append(Problem(_step_path(i, *rel.split(".")), "a step cannot refer to itself"))
    owners: dict[str, list[str]] = {}
    for step in steps:
        for child in step.owned():
            owners.setdefault(child, []).append(step.name)
    for child, by in owners.items():
        if child not in index_of:
            continue
        ci = index_of[child]
        if len(by) > 1:
            problems.append(Problem(_step_path(ci), f"step {child!r} belongs to more than one step: {', '.join(by)}"))
        owned_step = steps[ci]
        if owned_step.next:
            problems.append(
                Problem(
                    _step_path(ci, "next"),
                    f"step {child!r} runs inside {by[0]!r}, so it cannot jump elsewhere",
                )
            )
        if owned_step.condition is not None:
            problems.append(
                Problem(_step_path(ci, "condition"), f"step {child!r} runs inside {by[0]!r}; it cannot branch")
            )
        if owned_step.approval is not None:
            # Branches and items run concurrently, so one answer could not say which of them it approves.
            problems.append(
                Problem(
                    _step_path(ci, "approval"),
                    f"step {child!r} runs inside {by[0]!r}, and approvals cannot run inside parallel or foreach "
                    f"steps: put the approval before {by[0]!r}",
                )
            )
    for i, step in enumerate(steps):
        for rel, ref in step.references():
            if rel in ("next", "condition.then", "condition.else") and ref in owners:
                problems.append(
                    Problem(
                        _step_path(i, *rel.split(".")),
                        f"{ref!r} runs only inside {owners[ref][0]!r}; jump to {owners[ref][0]!r} instead",
                    )
                )
    return problems


def _flow(steps: list[Step]) -> list[Problem]:
    problems = []
    cycle = ownership_cycle(steps)
    if cycle:
        return [Problem("spec.steps", f"steps contain each other in a circle: {' -> '.join(cycle)}")]
    flow = build_flow(steps)
    if not flow.top_level:
        return [Problem("spec.steps", "every step belongs to another step, so nothing would start the run")]
    cycle = flow.find_cycle()
    if cycle:
        problems.append(
            Problem(
                "spec.steps",
                f"the flow loops: {' -> '.join(cycle)}; repeat with wait.until or retry instead of a loop",
            )
        )
    reachable = flow.reachable()
    for i, step in enumerate(steps):
        if step.name in flow.top_level and step.name not in reachable:
            problems.append(Problem(_step_path(i), f"step {step.name!r} is unreachable: no path from the first step"))
    return problems


def _checks_in(step: Step) -> Iterator[tuple[tuple[str, ...], Check]]:
    if step.condition is not None:
        yield ("condition", "check"), step.condition.check
    if step.wait is not None and step.wait.until is not None:
        yield ("wait", "until"), step.wait.until
    if step.rollout is not None and step.rollout.health_gate is not None:
        yield ("rollout", "healthGate", "check"), step.rollout.health_gate.check


def _value_fields(template: AnyTemplate) -> Iterator[tuple[str, str, bool, frozenset[str]]]:
    """(path, source, is_bare_cel, extra roots) for every expression-bearing field."""
    spec = template.spec
    foreach_item: dict[str, str] = {}
    for s in spec.steps:
        if s.foreach is not None:
            foreach_item[s.foreach.step] = s.foreach.as_
    if spec.target is not None:
        if spec.target.namespace:
            yield "spec.target.namespace", spec.target.namespace, False, frozenset()
        yield "spec.target.name", spec.target.name, False, frozenset()
    for i, step in enumerate(spec.steps):
        extra = frozenset({foreach_item[step.name]}) if step.name in foreach_item else frozenset()
        if step.when:
            yield _step_path(i, "when"), step.when, True, extra
        for rel, check in _checks_in(step):
            if check.expression:
                yield _step_path(i, *rel, "expression"), check.expression, True, extra
            if check.resource is not None:
                for fname in ("namespace", "name", "value"):
                    value = getattr(check.resource, fname)
                    if isinstance(value, str):
                        yield _step_path(i, *rel, "resource", fname), value, False, extra
        if step.action is not None:
            for rel_path, text in walk_strings(step.action.params):
                yield _step_path(i, "action", "params") + "." + rel_path, text, False, extra
        if step.rollout is not None:
            for rel_path, text in walk_strings(step.rollout.action.params):
                yield (
                    _step_path(i, "rollout", "action", "params") + "." + rel_path,
                    text,
                    False,
                    frozenset({"item"}),
                )
        if step.foreach is not None:
            yield _step_path(i, "foreach", "items"), step.foreach.items, False, extra
        if step.subflow is not None:
            for rel_path, text in walk_strings(step.subflow.variables):
                yield _step_path(i, "subflow", "variables") + "." + rel_path, text, False, extra


def _expressions(template: AnyTemplate) -> list[Problem]:
    problems = []
    allowed_base = CONTEXT_ROOTS - {"item"}
    for path, text, bare, extra in _value_fields(template):
        sources = [text] if bare else expressions_in(text)
        if not bare and "${{" in text and not sources:
            problems.append(Problem(path, "unclosed ${{ (an expression ends with }})"))
        for source in sources:
            try:
                roots = referenced_roots(source)
            except ExpressionError as exc:
                problems.append(Problem(path, exc.problem + f": {source}"))
                continue
            unknown = sorted(roots - allowed_base - extra)
            for root in unknown:
                hint = (
                    "item exists only inside a foreach step or a rollout action"
                    if root == "item"
                    else f"known roots: {', '.join(sorted(allowed_base | extra))}"
                )
                problems.append(Problem(path, f"unknown name {root!r} in {source!r} ({hint})"))
    for i, step in enumerate(template.spec.steps):
        for rel, check in _checks_in(step):
            if check.resource is not None:
                try:
                    parse_path(check.resource.field)
                except PathError as exc:
                    problems.append(Problem(_step_path(i, *rel, "resource", "field"), str(exc)))
        if step.foreach is not None and not is_expression(step.foreach.items):
            problems.append(Problem(_step_path(i, "foreach", "items"), "must be a ${{ }} expression yielding a list"))
    return problems


def _strip_expressions(params: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Params without expression values (checked at run time), and the keys removed."""
    kept, removed = {}, set()
    for key, value in params.items():
        if is_expression(value):
            removed.add(key)
        else:
            kept[key] = value
    return kept, removed


def _actions(template: AnyTemplate, registry: Registry) -> list[Problem]:
    problems: list[Problem] = []
    steps = template.spec.steps
    later_rollbacks = _rollbacks_after(steps)
    for i, step in enumerate(steps):
        calls: list[tuple[tuple[str, ...], ActionCall]] = []
        if step.action is not None:
            calls.append((("action",), step.action))
        if step.rollout is not None:
            calls.append((("rollout", "action"), step.rollout.action))
        for rel, call in calls:
            if call.name not in registry:
                known = ", ".join(s.name for s in registry)
                problems.append(Problem(_step_path(i, *rel, "name"), f"unknown action {call.name!r} (known: {known})"))
                continue
            spec = registry.get(call.name)
            params, dynamic = _strip_expressions(call.params)
            try:
                spec.params.model_validate(params)
            except ValidationError as exc:
                for p in problems_from(exc, ("spec", "steps", i, *rel, "params")):
                    field_name = p.path.rsplit(".", 1)[-1]
                    # Left out on purpose: filled from the target, or computed at run time.
                    if p.message == "is required" and (field_name in TARGET_DEFAULTED or field_name in dynamic):
                        continue
                    if field_name in dynamic:
                        continue
                    problems.append(p)
            rollback_steps = later_rollbacks.get(step.name, [])
            if rel == ("rollout", "action") and step.on_failure == "rollback":
                rollback_steps = [step.name, *rollback_steps]  # a failed gate undoes this step's own waves
            if rollback_steps and not spec.reversible and spec.risk in (Risk.HIGH, Risk.DISRUPTIVE):
                problems.append(
                    Problem(
                        _step_path(i, *rel, "name"),
                        f"{call.name} cannot be undone, but step(s) {', '.join(rollback_steps)} ask for rollback",
                    )
                )
            elif rollback_steps and not spec.reversible and spec.risk == Risk.LOW:
                problems.append(
                    Problem(
                        _step_path(i, *rel, "name"),
                        f"{call.name} cannot be undone; a rollback will leave its change in place",
                        severity="warning",
                    )
                )
    return problems


def _rollbacks_after(steps: list[Step]) -> dict[str, list[str]]:
    """For each step, the steps with ``onFailure: rollback`` that can fail after it has changed something.

    A step inside a parallel or foreach counts as its top-level owner; a
    rollback owner counts for the steps it contains. Empty when the flow is
    broken (those problems are reported on their own).
    """
    if ownership_cycle(steps) is not None:
        return {}
    flow = build_flow(steps)
    if flow.find_cycle() is not None:
        return {}

    def top(name: str) -> str:
        seen = set()
        while name in flow.owner_of and name not in seen:
            seen.add(name)
            name = flow.owner_of[name]
        return name

    def descendants(node: str) -> set[str]:
        out: set[str] = set()
        stack = list(flow.edges.get(node, []))
        while stack:
            nxt = stack.pop()
            if nxt not in out:
                out.add(nxt)
                stack.extend(flow.edges.get(nxt, []))
        return out

    rollback_names = [s.name for s in steps if s.on_failure == "rollback"]
    result: dict[str, list[str]] = {}
    for step in steps:
        home = top(step.name)
        after = descendants(home)
        result[step.name] = [r for r in rollback_names if r != step.name and (top(r) in after or top(r) == home)]
    return result


def _namespace_confinement(template: AnyTemplate) -> list[Problem]:
    if isinstance(template, ClusterWorkflowTemplate):
        return []
    problems = []
    own = template.metadata.get("namespace")
    target = template.spec.target
    if target is not None:
        if target.kind in CLUSTER_SCOPED_KINDS or target.owner == "Node":
            what = target.kind if target.kind in CLUSTER_SCOPED_KINDS else "the pod's Node"
            problems.append(
                Problem(
                    "spec.target",
                    f"a namespaced WorkflowTemplate cannot act on {what}; use a ClusterWorkflowTemplate",
                )
            )
        if own and target.namespace and not is_expression(target.namespace) and target.namespace != own:
            problems.append(
                Problem(
                    "spec.target.namespace",
                    f"{target.namespace!r} is outside the template's namespace {own!r}",
                )
            )
    for i, step in enumerate(template.spec.steps):
        calls = [("action", step.action)] if step.action else []
        for rel, call in calls:
            assert call is not None
            ns = call.params.get("namespace")
            if own and isinstance(ns, str) and not is_expression(ns) and ns != own:
                problems.append(
                    Problem(
                        _step_path(i, rel, "params", "namespace"),
                        f"{ns!r} is outside the template's namespace {own!r}",
                    )
                )
        if step.rollout is not None and step.rollout.targets.kind in CLUSTER_SCOPED_KINDS:
            problems.append(
                Problem(
                    _step_path(i, "rollout", "targets", "kind"),
                    f"a namespaced WorkflowTemplate cannot roll out to {step.rollout.targets.kind} objects",
                )
            )
    return problems


def _timeouts(template: AnyTemplate) -> list[Problem]:
    spec = template.spec
    problems = []
    workflow = parse_duration(spec.timeouts.workflow)
    if parse_duration(spec.timeouts.step) > workflow:
        problems.append(
            Problem(
                "spec.timeouts.step",
                f"{spec.timeouts.step} is longer than the workflow timeout {spec.timeouts.workflow}",
            )
        )
    for i, step in enumerate(spec.steps):
        limits = [("timeout", step.timeout)]
        if step.wait is not None:
            limits.append(("wait.timeout", step.wait.timeout if step.wait.until else None))
            limits.append(("wait.duration", step.wait.duration))
        if step.approval is not None:
            limits.append(("approval.timeout", step.approval.timeout))
        for rel, value in limits:
            if value and parse_duration(value) > workflow:
                problems.append(
                    Problem(
                        _step_path(i, *rel.split(".")),
                        f"{value} is longer than the workflow timeout {spec.timeouts.workflow}",
                    )
                )
            if value and parse_duration(value) <= 0:
                problems.append(Problem(_step_path(i, *rel.split(".")), "must be longer than zero"))
        if step.retry is not None and parse_duration(step.retry.backoff) > parse_duration(step.retry.max_backoff):
            problems.append(Problem(_step_path(i, "retry", "backoff"), "is longer than retry.maxBackoff"))
    return problems


def _verify_promql(template: AnyTemplate, *, prometheus: bool | None) -> list[Problem]:
    """``spec.verify.promql``: its matchers fit its query, look up only alert and target, and a Prometheus asks it."""
    check = template.spec.verify.promql
    if check is None:
        return []
    problems = []
    try:  # the engine's own rule for where matchers go; values do not matter here
        with_matchers(check.query, [LabelMatcher(label=m.label, op=m.op, value="") for m in check.matchers])
    except ValueError as exc:
        problems.append(Problem("spec.verify.promql.query", str(exc)))
    for i, matcher in enumerate(check.matchers):
        path = join_path("spec", "verify", "promql", "matchers", i, "value")
        for source in expressions_in(matcher.value):
            try:
                roots = referenced_roots(source)
            except ExpressionError as exc:
                problems.append(Problem(path, exc.problem + f": {source}"))
                continue
            for root in sorted(roots - VERIFY_ROOTS):
                problems.append(
                    Problem(path, f"unknown name {root!r} in {source!r} (a verify check sees alert, target)")
                )
    if prometheus is False:
        problems.append(
            Problem(
                "spec.verify.promql",
                "this check needs a Prometheus and SUTURE_PROMETHEUS_URL is not set: without one, every "
                "verification of this template ends Unknown",
                severity="warning",
            )
        )
    return problems
