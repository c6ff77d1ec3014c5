"""The safety rules that say whether a template may act on a target now: one place for both callers.

The run start (:func:`suture.runs.request.build_run_request`) is the
authoritative caller: rules and history can change between an alert's receipt
and its run. The receiver calls the same functions before it creates a
Remediation, so an alert the rules would refuse anyway is answered as
suppressed instead of becoming a Remediation that fails at once. Nothing here
needs the engine, so the receiver can use it without knowing the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from suture.api import API_VERSION, Safety, parse_duration
from suture.errors import RunRefused
from suture.kube import KubeClient

__all__ = ["check_rate", "check_target_namespace"]


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def check_target_namespace(safety: Safety, *, target_namespace: str | None, confine: str | None) -> None:
    """Refuse a target outside a namespaced template's own namespace, or one its safety rules deny."""
    if confine is not None and target_namespace not in (None, confine):
        raise RunRefused("NamespaceDenied", f"target namespace {target_namespace!r} is outside {confine!r}")
    if not safety.permits_namespace(target_namespace):
        raise RunRefused("NamespaceDenied", f"the template's safety rules deny namespace {target_namespace!r}")


async def _recent_runs(
    kube: KubeClient, *, template: str, scope: str | None, exclude_uid: str, since: datetime
) -> list[dict[str, Any]]:
    """Remediations of ``template`` that started running after ``since`` (a run counts once accepted)."""
    items = await kube.list("Remediation", scope, api_version=API_VERSION)
    recent = []
    for item in items:
        if item["metadata"].get("uid") == exclude_uid or item["spec"]["templateRef"]["name"] != template:
            continue
        started = _parse_time((item.get("status") or {}).get("startTime"))
        if started is not None and started >= since:
            recent.append(item)
    return recent


async def check_rate(
    kube: KubeClient,
    *,
    template: str,
    safety: Safety,
    scope: str | None,
    target_uid: str | None,
    now: datetime,
    exclude_uid: str = "",
) -> None:
    """Refuse a run within the template's cooldown on the same target, or past its hourly budget.

    ``scope`` is where the template's Remediations live (None: every
    namespace, for a ClusterWorkflowTemplate); ``exclude_uid`` is the
    Remediation asking, which must not count against itself.
    """
    cooldown = parse_duration(safety.cooldown)
    if not safety.max_runs_per_hour and cooldown <= 0:
        return  # neither rule is on: nothing to list
    hour = await _recent_runs(
        kube, template=template, scope=scope, exclude_uid=exclude_uid, since=now - timedelta(hours=1)
    )
    if safety.max_runs_per_hour and len(hour) >= safety.max_runs_per_hour:
        raise RunRefused(
            "RateLimited",
            f"{len(hour)} runs of {template!r} in the last hour (maxRunsPerHour {safety.max_runs_per_hour})",
        )
    if target_uid and cooldown > 0:
        for item in hour:
            started = _parse_time(item["status"]["startTime"])
            recorded = (item.get("status") or {}).get("target") or item["spec"].get("target") or {}
            if recorded.get("uid") == target_uid and started is not None and (now - started).total_seconds() < cooldown:
                raise RunRefused(
                    "Cooldown",
                    f"{item['metadata']['name']} ran {template!r} on the same target "
                    f"at {item['status']['startTime']} (cooldown {safety.cooldown})",
                )
