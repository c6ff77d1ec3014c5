"""Data collection and paging: ask Prometheus and Alertmanager, and silence the alert while a fix runs.

The URLs come from the operator's settings (``SUTURE_PROMETHEUS_URL``,
``SUTURE_ALERTMANAGER_URL``), never from a template: a template cannot point
Suture at another host. Alert label values reach Prometheus only as typed
matchers (escaped by :func:`suture.actions.with_matchers`), and Alertmanager
only as structured JSON matchers or a client-side comparison: nothing from an
alert is spliced into a query string.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    Duration,
    ErrorCategory,
    LabelMatcher,
    Risk,
    action,
    parse_duration,
    with_matchers,
)
from suture_actions._common import would

PROMETHEUS_ENV = "SUTURE_PROMETHEUS_URL"
ALERTMANAGER_ENV = "SUTURE_ALERTMANAGER_URL"
MAX_SERIES = 50
MAX_POINTS = 500
CREATED_BY = "suture"


def _base_url(env: str, what: str) -> str:
    url = os.environ.get(env, "").rstrip("/")
    if not url:
        raise ActionError(f"no {what} configured: set {env} for the operator", category=ErrorCategory.INVALID)
    return url


async def _call(
    method: str, url: str, *, what: str, timeout: float, params: dict[str, str] | None = None, body: Any = None
) -> Any:
    """One JSON call; no answer or a 5xx is transient, a 404 not-found, any other non-2xx invalid."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.request(method, url, params=params, json=body, allow_redirects=False) as response,
        ):
            status = response.status
            text = await response.text(errors="replace")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise ActionError(f"{what} did not answer: {type(exc).__name__}", category=ErrorCategory.TRANSIENT) from None
    if status >= 500 or status == 429:
        raise ActionError(f"{what} answered {status}: {text[:300]}", category=ErrorCategory.TRANSIENT)
    if status == 404:
        raise ActionError(f"{what} answered 404: {text[:300]}", category=ErrorCategory.NOT_FOUND)
    if not 200 <= status < 300:
        raise ActionError(f"{what} answered {status}: {text[:300]}", category=ErrorCategory.INVALID)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ActionError(f"{what} answered {status} without JSON", category=ErrorCategory.FAILED) from None


# -- query_prometheus ------------------------------------------------------------------------


class RangeParams(ActionParams):
    """A range query: the last ``duration`` up to now, one point per ``step``."""

    duration: Duration = Field(description="How far back, e.g. 15m.")
    step: Duration = Field(default="1m", description="Resolution, e.g. 30s.")


class QueryPrometheusParams(ActionParams):
    """A PromQL query whose label values from the alert go in as typed matchers."""

    query: str = Field(
        min_length=1,
        max_length=4096,
        description="PromQL, written in the template; $matchers marks where the matchers go, inside the braces "
        'of a selector, e.g. rate(http_requests_total{job="api",$matchers}[5m]). Never put ${{ }} here.',
    )
    matchers: list[LabelMatcher] = Field(
        default_factory=list,
        max_length=20,
        description="Label matchers (label, op, value); values may come from the alert and are escaped.",
    )
    range: RangeParams | None = Field(default=None, description="A range query instead of an instant one.")
    max_series: int = Field(default=10, ge=1, le=MAX_SERIES, description="Series kept in the output.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Give up after this many seconds.")


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if value != value else value  # NaN is no value


def _result(data: dict[str, Any], max_series: int) -> dict[str, Any]:
    """The answer in a small shape: value (the first series' latest sample), series with labels and values."""
    kind = data.get("resultType")
    result: Any = data.get("result")
    if kind == "scalar":
        return {"resultType": kind, "value": _number(result[1]), "series": [], "seriesCount": 0}
    series: list[dict[str, Any]] = []
    for item in (result or [])[:max_series]:
        entry: dict[str, Any] = {"labels": item.get("metric", {})}
        if "value" in item:
            entry["value"] = _number(item["value"][1])
        else:
            points = item.get("values") or []
            entry["values"] = [[p[0], _number(p[1])] for p in points[-MAX_POINTS:]]
            entry["value"] = entry["values"][-1][1] if entry["values"] else None
        series.append(entry)
    value = series[0]["value"] if series else None
    return {"resultType": kind, "value": value, "series": series, "seriesCount": len(result or [])}


@action(name="query_prometheus", family="observability", params=QueryPrometheusParams, risk=Risk.READ_ONLY, rbac=())
async def query_prometheus(ctx: ActionContext, params: QueryPrometheusParams) -> ActionResult:
    """Ask Prometheus an instant or range query; the answer is the step's output for later steps and conditions.

    ``steps.<name>.output.value`` is the first series' latest sample (None when
    the result is empty), ``series`` up to ``maxSeries`` of them with their
    labels. Read-only, so it also runs under dry-run. The matchers are
    rendered with escaping: an alert's label value can never change the query.
    """
    try:
        query = with_matchers(params.query, params.matchers)
    except ValueError as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID, action="query_prometheus") from None
    base = _base_url(PROMETHEUS_ENV, "Prometheus")
    if params.range is None:
        path, args = "/api/v1/query", {"query": query}
    else:
        end = datetime.now(UTC)
        start = end - timedelta(seconds=parse_duration(params.range.duration))
        args = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{parse_duration(params.range.step):g}",
        }
        path = "/api/v1/query_range"
    answer = await _call("GET", base + path, what="Prometheus", timeout=params.timeout_seconds, params=args)
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise ActionError(f"Prometheus refused the query {query!r}", category=ErrorCategory.INVALID)
    output = {"query": query, **_result(answer.get("data") or {}, params.max_series)}
    found = "no series" if output["value"] is None else f"value {output['value']:g}"
    return ActionResult(changed=False, message=f"queried Prometheus: {found}", output=output)


# -- query_alertmanager ----------------------------------------------------------------------


class AlertLabelsParams(ActionParams):
    """The alert, by its labels (usually ${{ alert.labels }})."""

    labels: dict[str, str] = Field(
        min_length=1, max_length=64, description="Labels the alert must carry, all of them (exact values)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Give up after this many seconds.")


def _carries(alert: dict[str, Any], labels: dict[str, str]) -> bool:
    have = alert.get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


@action(name="query_alertmanager", family="observability", params=AlertLabelsParams, risk=Risk.READ_ONLY, rbac=())
async def query_alertmanager(ctx: ActionContext, params: AlertLabelsParams) -> ActionResult:
    """Read the alert's current state from Alertmanager (API v2): firing, silenced or inhibited, or gone.

    Output: ``state`` (active, suppressed, unprocessed, or resolved when
    Alertmanager holds no such alert), ``count``, ``fingerprints``,
    ``silencedBy``, ``inhibitedBy`` and ``startsAt`` of the first match. The
    labels are compared here, exactly; they are never sent as a filter
    expression. Read-only.
    """
    base = _base_url(ALERTMANAGER_ENV, "Alertmanager")
    alerts = await _call("GET", base + "/api/v2/alerts", what="Alertmanager", timeout=params.timeout_seconds)
    matching = [a for a in alerts or [] if isinstance(a, dict) and _carries(a, params.labels)]
    if not matching:
        output: dict[str, Any] = {"state": "resolved", "count": 0, "fingerprints": []}
        return ActionResult(changed=False, message="Alertmanager has no such alert (resolved)", output=output)
    first = matching[0]
    status = first.get("status") or {}
    output = {
        "state": status.get("state", "unprocessed"),
        "count": len(matching),
        "fingerprints": [a.get("fingerprint", "") for a in matching][:20],
        "silencedBy": status.get("silencedBy") or [],
        "inhibitedBy": status.get("inhibitedBy") or [],
        "startsAt": first.get("startsAt"),
    }
    return ActionResult(changed=False, message=f"the alert is {output['state']} in Alertmanager", output=output)


# -- silence_alert ---------------------------------------------------------------------------


class SilenceParams(AlertLabelsParams):
    """Silence the alert for about as long as the run takes."""

    duration: Duration = Field(
        default="1h", description="How long the silence lasts at most (the run's expected length); undo ends it."
    )
    comment: str = Field(default="", max_length=1024, description="Shown in Alertmanager beside the silence.")


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _silence_of(base: str, key: str, timeout: float) -> str | None:
    """The active silence this very call created before (its comment carries the call's key), if any."""
    silences = await _call("GET", base + "/api/v2/silences", what="Alertmanager", timeout=timeout)
    for silence in silences or []:
        state = (silence.get("status") or {}).get("state")
        if key in str(silence.get("comment", "")) and state in ("active", "pending"):
            return str(silence["id"])
    return None


async def _expire(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    """Expire the silence the action created, found by id or by its call key (none, or already expired:
    nothing to do, so undoing a silence that was never created changes nothing)."""
    if ctx.dry_run:
        return ActionResult(changed=False, message=would(ctx, "expire the run's silence"), dry_run=True)
    base = _base_url(ALERTMANAGER_ENV, "Alertmanager")
    silence = data.get("silenceId") or (await _silence_of(base, str(data["key"]), 10.0) if data.get("key") else None)
    if not silence:
        return ActionResult(changed=False, message="no silence to expire")
    try:
        await _call("DELETE", f"{base}/api/v2/silence/{silence}", what="Alertmanager", timeout=10.0)
    except ActionError as exc:
        if exc.category is not ErrorCategory.NOT_FOUND and "already expired" not in str(exc):
            raise
    return ActionResult(changed=True, message=f"expired silence {silence}")


@action(
    name="silence_alert",
    family="observability",
    params=SilenceParams,
    risk=Risk.LOW,
    rbac=(),
    undo=_expire,
    undo_description="expire the silence",
)
async def silence_alert(ctx: ActionContext, params: SilenceParams) -> ActionResult:
    """Create an Alertmanager silence matching the alert, so on-call is not paged for a fix already running.

    The silence matches every given label exactly (structured matchers, no
    expression text), ends after ``duration`` on its own, and is expired by
    undo (a rollback) or by a later ``expire_silence`` step. Its comment
    carries the engine's call key, so a replay after a crash finds the
    silence it made instead of making a second one.
    """
    base = _base_url(ALERTMANAGER_ENV, "Alertmanager")
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(params.labels.items())]
    start = datetime.now(UTC)
    end = start + timedelta(seconds=parse_duration(params.duration))
    who = f"remediation {ctx.remediation}" if ctx.remediation else "Suture"
    comment = f"{params.comment or 'remediation in progress'} ({who}; key {ctx.idempotency_key or 'none'})"
    body = {
        "matchers": matchers,
        "startsAt": _stamp(start),
        "endsAt": _stamp(end),
        "createdBy": CREATED_BY,
        "comment": comment,
    }
    if ctx.dry_run:
        return ActionResult(
            changed=False,
            message=would(ctx, f"silence the alert for {params.duration}"),
            output={"silence": body},
            dry_run=True,
        )
    existing = None
    if ctx.idempotency_key:
        await ctx.intend({"key": ctx.idempotency_key})  # the id is not known before the POST; the key finds it
        existing = await _silence_of(base, ctx.idempotency_key, params.timeout_seconds)
    if existing is None:
        answer = await _call(
            "POST", base + "/api/v2/silences", what="Alertmanager", timeout=params.timeout_seconds, body=body
        )
        existing = str((answer or {}).get("silenceID", ""))
        if not existing:
            raise ActionError("Alertmanager created no silence", category=ErrorCategory.FAILED)
    return ActionResult(
        changed=True,
        message=f"silenced the alert until {body['endsAt']} (silence {existing})",
        output={"silenceId": existing, "endsAt": body["endsAt"]},
        undo={"silenceId": existing, "key": ctx.idempotency_key},
    )


class ExpireSilenceParams(ActionParams):
    """The silence to end (usually ${{ steps.<silence step>.output.silenceId }})."""

    silence_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="The silence's id.")


@action(name="expire_silence", family="observability", params=ExpireSilenceParams, risk=Risk.LOW, rbac=())
async def expire_silence(ctx: ActionContext, params: ExpireSilenceParams) -> ActionResult:
    """End a silence that silence_alert created, at the end of the run (an expired one is left as it is)."""
    return await _expire(ctx, {"silenceId": params.silence_id})


ACTIONS: list[ActionSpec[Any]] = [query_prometheus, query_alertmanager, silence_alert, expire_silence]
