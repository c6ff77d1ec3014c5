"""Evaluate a ``Check``: a CEL expression, a field of a live object, a PromQL value, a time window.

Every evaluation returns ``(holds, detail)``; ``detail`` is a plain-words
sentence for the step's message. Problems that a retry cannot fix (a bad
expression, a missing PromQL client) raise ``ActionError`` with category
``invalid``; an API failure raises the category of its ApiError class, and
the PromQL client's own errors (PrometheusUnavailable, transient;
InvalidQuery, invalid) pass through as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from suture.actions import ActionError, ErrorCategory
from suture.actions.registry import api_error_to_action_error
from suture.api import Check, PromQLCheck, ResourceCheck, TimeWindow, parse_duration
from suture.errors import InvalidReference, UnknownKind
from suture.expr import ExpressionError, evaluate_bool, expressions_in, get_path, is_expression, resolve_value
from suture.kube import ApiError, KubeClient
from suture.prometheus import LabelMatcher, with_matchers

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class PromQLClient(Protocol):
    """Answers instant PromQL queries; the operator provides one bound to its Prometheus."""

    async def query(self, *, query: str) -> float | None:
        """The value of the first sample of ``query`` now, or None when the result is empty.

        Raises PrometheusUnavailable (transient) when Prometheus cannot answer
        and InvalidQuery when it refuses the query.
        """


Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def bare_cel(source: str) -> str:
    """A guard or check expression without its optional ``${{ }}`` wrapper."""
    if is_expression(source):
        inner = expressions_in(source)
        if len(inner) == 1 and source.strip().startswith("${{") and source.strip().endswith("}}"):
            return inner[0]
    return source


def eval_guard(source: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` guard or expression check; a bad one is an ``invalid`` ActionError."""
    try:
        return evaluate_bool(bare_cel(source), context)
    except ExpressionError as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID) from None


def field_at(obj: Any, path: str) -> Any:
    """The value at a field path, in the grammar ``suture validate`` checks (:mod:`suture.expr.paths`):
    ``status.readyReplicas``, ``spec.containers[0].image``, ``status.conditions[type=Ready].status``."""
    return get_path(obj, path)


def target_ref(target: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """(apiVersion, kind, namespace, name) of a target given as an object or an ObjectRef dict."""
    meta = target.get("metadata") or {}
    return (
        target.get("apiVersion"),
        target.get("kind"),
        meta.get("namespace", target.get("namespace")),
        meta.get("name", target.get("name")),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def compare(actual: Any, operator: str, expected: Any) -> bool:
    """Compare a field with a value: numerically when both are numbers, as text otherwise."""
    if operator == "Exists":
        return actual is not None
    if actual is None:
        return operator == "NotEquals" and expected is not None
    a, b = _number(actual), _number(expected)
    if operator in ("Equals", "NotEquals", "==", "!="):
        if a is not None and b is not None:
            same = a == b
        elif isinstance(actual, bool) or isinstance(expected, bool):
            same = str(actual).lower() == str(expected).lower()
        else:
            same = actual == expected or str(actual) == str(expected)
        return same if operator in ("Equals", "==") else not same
    if a is None or b is None:
        raise ActionError(
            f"cannot compare {actual!r} with {expected!r} using {operator}", category=ErrorCategory.INVALID
        )
    return {
        "GreaterThan": a > b,
        ">": a > b,
        "GreaterOrEqual": a >= b,
        ">=": a >= b,
        "LessThan": a < b,
        "<": a < b,
        "LessOrEqual": a <= b,
        "<=": a <= b,
    }[operator]


NamespaceRefusal = Callable[[str | None], str | None]


async def _confine(
    kube: KubeClient, kind: str, api_version: str | None, namespace: Any, refusal: NamespaceRefusal | None
) -> str | None:
    """The namespace to read in, after the same confinement actions obey; raises ``forbidden``.

    Secrets are never read by a check: a value that decides a branch ends up in
    messages and status, and the operator is granted no Secrets anyway.
    """
    try:
        info = await kube.resolve(kind, api_version)
    except (InvalidReference, UnknownKind) as exc:  # a kind the check cannot name: a template problem
        raise ActionError(exc.message, category=ErrorCategory.INVALID) from None
    except ApiError as exc:
        raise api_error_to_action_error(exc, "resource check") from exc
    if info.plural.lower() == "secrets" and info.api_version == "v1":
        raise ActionError("resource checks may not read Secrets", category=ErrorCategory.FORBIDDEN)
    where = (str(namespace) if namespace else None) if info.namespaced else None
    reason = refusal(where) if refusal is not None else None
    if reason is not None:
        raise ActionError(f"resource check on {kind}: {reason}", category=ErrorCategory.FORBIDDEN)
    return where


async def check_resource(
    check: ResourceCheck,
    *,
    context: Mapping[str, Any],
    kube: KubeClient,
    refusal: NamespaceRefusal | None = None,
) -> tuple[bool, str]:
    """Read the object (the target by default) and compare one of its fields.

    ``refusal`` is the run's namespace rule (``ActionContext.namespace_refusal``):
    a check reads only where the template's actions could act.
    """
    api_version, kind, namespace, name = target_ref(context.get("target") or {})
    try:
        namespace = resolve_value(check.namespace, context) if check.namespace else namespace
        name = resolve_value(check.name, context) if check.name else name
        expected = resolve_value(check.value, context)
    except ExpressionError as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID) from None
    kind = check.kind or kind
    api_version = check.api_version or (api_version if not check.kind else None)
    if not kind or not name:
        raise ActionError(
            "the resource check names no object and the run has no target", category=ErrorCategory.INVALID
        )
    namespace = namespace or (context.get("run") or {}).get("namespace")
    namespace = await _confine(kube, kind, api_version, namespace, refusal)
    try:
        obj = await kube.get(kind, str(name), namespace, api_version=api_version)
    except ApiError as exc:
        raise api_error_to_action_error(exc, "resource check") from exc
    actual = field_at(obj, check.field)
    holds = compare(actual, check.operator, expected)
    where = f"{kind} {namespace + '/' if namespace else ''}{name}"
    return (
        holds,
        f"{where} {check.field}={actual!r} {check.operator} {expected!r}: {'holds' if holds else 'does not hold'}",
    )


def promql_query(check: PromQLCheck, context: Mapping[str, Any]) -> str:
    """The check's query with its matchers rendered (``${{ }}`` values looked up, then escaped)."""
    matchers = [
        LabelMatcher(label=m.label, op=m.op, value=str(resolve_value(m.value, context))) for m in check.matchers
    ]
    try:
        return with_matchers(check.query, matchers)
    except ValueError as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID) from None


async def check_promql(
    check: PromQLCheck,
    *,
    promql: PromQLClient | None,
    sleep: Sleep,
    interval: float,
    context: Mapping[str, Any] | None = None,
) -> tuple[bool, str]:
    """Query once, or every ``interval`` for the check's ``for`` duration; every sample must pass."""
    if promql is None:
        raise ActionError("a PromQL check needs a Prometheus, and none is configured", category=ErrorCategory.INVALID)
    query = promql_query(check, context or {})
    hold_for = parse_duration(check.for_) if check.for_ else 0.0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold_for
    while True:
        value = await promql.query(query=query)
        if value is None:
            return False, f"PromQL {query!r} returned no sample"
        if not compare(value, check.operator, check.threshold):
            return False, f"PromQL {query!r} = {value} is not {check.operator} {check.threshold}"
        if loop.time() >= deadline:
            held = f" for {check.for_}" if check.for_ else ""
            return True, f"PromQL {query!r} = {value} {check.operator} {check.threshold}{held}"
        await sleep(min(interval, max(deadline - loop.time(), 0.0)))


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def check_time_window(window: TimeWindow, *, now: datetime) -> tuple[bool, str]:
    """True while ``now`` (in the window's time zone) is inside the window; windows may cross midnight."""
    try:
        local = now.astimezone(ZoneInfo(window.timezone))
    except ZoneInfoNotFoundError:
        raise ActionError(f"unknown time zone {window.timezone!r}", category=ErrorCategory.INVALID) from None
    minute = local.hour * 60 + local.minute
    start, end = _minutes(window.start), _minutes(window.end)
    day = _WEEKDAYS[local.weekday()]
    if start <= end:
        inside = start <= minute < end
    else:  # crosses midnight: the part after midnight belongs to the previous day's window
        inside = minute >= start or minute < end
        if minute < end:
            day = _WEEKDAYS[(local.weekday() - 1) % 7]
    if window.days and day not in window.days:
        inside = False
    span = f"{window.start}-{window.end} {window.timezone}" + (f" on {','.join(window.days)}" if window.days else "")
    return inside, f"{local.strftime('%a %H:%M')} is {'inside' if inside else 'outside'} {span}"


async def evaluate_check(
    check: Check,
    *,
    context: Mapping[str, Any],
    kube: KubeClient,
    promql: PromQLClient | None,
    clock: Clock,
    sleep: Sleep,
    interval: float = 10.0,
    refusal: NamespaceRefusal | None = None,
) -> tuple[bool, str]:
    """Evaluate any check kind once (a PromQL ``for`` polls for its duration).

    ``refusal`` confines resource checks like the run's actions (see :func:`check_resource`).
    """
    if check.expression is not None:
        holds = eval_guard(check.expression, context)
        return holds, f"{check.expression} is {str(holds).lower()}"
    if check.resource is not None:
        return await check_resource(check.resource, context=context, kube=kube, refusal=refusal)
    if check.promql is not None:
        return await check_promql(check.promql, promql=promql, sleep=sleep, interval=interval, context=context)
    if check.time_window is not None:
        return check_time_window(check.time_window, now=clock())
    raise ActionError("the check sets none of expression, resource, promql, timeWindow", category=ErrorCategory.INVALID)
