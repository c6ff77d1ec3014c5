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
from typing import Protocol

from suture.api import Safety, parse_duration
from suture.errors import RunRefused
from suture.store import RecentStarts

__all__ = ["StartedRuns", "check_rate", "check_target_namespace"]


class StartedRuns(Protocol):
    """What the rules read: :class:`suture.store.History`, or a receiver's short-lived copy of its answers."""

    async def recent_starts(
        self,
        *,
        template: str,
        namespace: str | None,
        since: datetime,
        target_uid: str | None = None,
        target_since: datetime | None = None,
        exclude_run_id: str = "",
    ) -> RecentStarts:
        """How many runs of ``template`` started since ``since``, and the last on ``target_uid``."""
        ...


def check_target_namespace(safety: Safety, *, target_namespace: str | None, confine: str | None) -> None:
    """Refuse a target outside a namespaced template's own namespace, or one its safety rules deny."""
    if confine is not None and target_namespace not in (None, confine):
        raise RunRefused("NamespaceDenied", f"target namespace {target_namespace!r} is outside {confine!r}")
    if not safety.permits_namespace(target_namespace):
        raise RunRefused("NamespaceDenied", f"the template's safety rules deny namespace {target_namespace!r}")


async def check_rate(
    history: StartedRuns,
    *,
    template: str,
    safety: Safety,
    scope: str | None,
    target_uid: str | None,
    now: datetime,
    exclude_uid: str = "",
) -> None:
    """Refuse a run within the template's cooldown on the same target, or past its hourly budget.

    Counts the runs the SQL history recorded as started (a run is recorded
    when its start is accepted, under the run start's per-template lock), with
    two indexed queries: the cost does not grow with the Remediations stored.
    ``scope`` is where the template's Remediations live (None: every
    namespace, for a ClusterWorkflowTemplate); ``exclude_uid`` is the
    Remediation asking, which must not count against itself. With more than
    one replica the history must be shared (PostgreSQL) for the rules to hold
    across a failover.
    """
    cooldown = parse_duration(safety.cooldown)
    if not safety.max_runs_per_hour and cooldown <= 0:
        return  # neither rule is on: nothing to read
    recent = await history.recent_starts(
        template=template,
        namespace=scope,
        since=now - timedelta(hours=1),
        target_uid=target_uid if cooldown > 0 else None,
        target_since=now - timedelta(seconds=cooldown),
        exclude_run_id=exclude_uid,
    )
    if safety.max_runs_per_hour and recent.started >= safety.max_runs_per_hour:
        raise RunRefused(
            "RateLimited",
            f"{recent.started} runs of {template!r} in the last hour (maxRunsPerHour {safety.max_runs_per_hour})",
        )
    last = recent.last_on_target
    if last is not None:
        raise RunRefused(
            "Cooldown",
            f"{last.remediation or 'a run'} ran {template!r} on the same target "
            f"at {last.started_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} (cooldown {safety.cooldown})",
        )
