"""Remediation history in SQL: runs, their steps, and their verified outcomes.

What ranking, cooldowns, rate limits and ``suture stats`` read. One row per run
(``suture_runs``: the alert's name, labels, annotations and fingerprint, the
features ranking used, the template and target, timings), one per step
(``suture_steps``) and one outcome per run (``suture_outcomes``: Effective,
Ineffective or Unknown, and the time the alert took to resolve).

Tables are declared here on the shared :data:`suture.store.db.metadata`; the
schema itself is created by the alembic migrations in ``migrations/``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from suture.store.db import metadata

runs = Table(
    "suture_runs",
    metadata,
    Column("run_id", String(253), primary_key=True),
    Column("alert_name", String(253), nullable=False, index=True),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("features", Text, nullable=False),
    Column("template", String(253), nullable=False, index=True),
    Column("target", String(512), nullable=False, default=""),
    Column("phase", String(32), nullable=False),
    Column("score", Float, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # Which version of the template ran (status.templateVersion), and how many attempts the run took.
    Column("template_generation", Integer, nullable=True),
    Column("template_hash", String(64), nullable=False, default="", index=True),
    Column("attempts", Integer, nullable=False, default=1),
    # Where the run's Remediation lives and the UID of the object it acted on: what cooldowns and
    # hourly budgets count (suture.runs.safety), through the two composite indexes below.
    Column("namespace", String(253), nullable=False, default="", server_default=""),
    Column("remediation", String(253), nullable=False, default="", server_default=""),
    Column("target_uid", String(64), nullable=False, default="", server_default=""),
    Index("ix_suture_runs_template_started", "template", "started_at"),
    Index("ix_suture_runs_target_uid_started", "target_uid", "started_at"),
)

steps = Table(
    "suture_steps",
    metadata,
    Column("run_id", String(253), ForeignKey("suture_runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("step", String(253), primary_key=True),
    Column("action", String(253), nullable=False, default=""),
    Column("phase", String(32), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

outcomes = Table(
    "suture_outcomes",
    metadata,
    Column("run_id", String(253), ForeignKey("suture_runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("resolved_after_seconds", Float, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("message", Text, nullable=False, default=""),
)


@dataclass(frozen=True)
class RunRecord:
    """A run as history keeps it."""

    run_id: str
    alert_name: str
    fingerprint: str
    template: str
    phase: str
    started_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    features: Sequence[str] = ()
    """The tokens ranking used (so learning and explanations can be replayed)."""
    target: str = ""
    """``Kind/namespace/name`` of the object acted on."""
    score: float | None = None
    finished_at: datetime | None = None
    template_generation: int | None = None
    template_hash: str = ""
    """The hash of the template's spec the run ran: the same template name may have several versions."""
    attempts: int = 1
    """1, plus one per retry from a failed step."""
    namespace: str = ""
    """The namespace of the run's Remediation."""
    remediation: str = ""
    """The name of the run's Remediation."""
    target_uid: str = ""
    """The UID of the object acted on (cooldowns are per object, and a re-created object is another one)."""


@dataclass(frozen=True)
class PriorStart:
    """One earlier run's start, as a refusal names it."""

    remediation: str
    namespace: str
    started_at: datetime


@dataclass(frozen=True)
class RecentStarts:
    """What :meth:`History.recent_starts` found."""

    started: int
    last_on_target: PriorStart | None


@dataclass(frozen=True)
class StepRecord:
    run_id: str
    step: str
    phase: str
    action: str = ""
    attempts: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class TemplateStats:
    """One (template, namespace, alert name) row of ``suture stats``."""

    template: str
    alert_name: str
    runs: int
    effective: int
    ineffective: int
    unknown: int
    median_resolve_seconds: float | None
    version: str = ""  # the template's content hash, with stats(by_version=True)
    namespace: str = ""  # where its runs' Remediations were; empty for runs recorded before revision 0004


@dataclass(frozen=True)
class TemplateRecord:
    """One template's runs as its status counts them (:meth:`History.template_record`)."""

    runs: int
    outcomes: list[str]
    """Its decided outcomes, oldest decision first (what :func:`keeps_failing` reads)."""


@dataclass(frozen=True)
class StepTiming:
    """One finished step of one run, with its run's own duration (``suture stats`` finds slow steps in these)."""

    run_id: str
    template: str
    step: str
    action: str
    seconds: float
    run_seconds: float
    """The run's time: its start to finish, or the sum of its steps' times when the run has no finish."""


FAILING_STREAK = 3
"""A template whose last this many decided outcomes are all Ineffective keeps failing."""
FAILING_MIN_RUNS = 5
"""... or whose effective rate is surely below one half (Wilson upper bound) over at least this many."""


def wilson_interval(successes: int, trials: int, *, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a success rate; (0, 1) when nothing was tried.

    Why Wilson: with the few runs a template has, the plain rate +- 2 s.e.
    gives intervals outside 0..1 and claims certainty after one run.
    """
    if trials <= 0:
        return 0.0, 1.0
    rate = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1.0 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def keeps_failing(outcomes: Sequence[str]) -> str | None:
    """Why a template with these outcomes (oldest first) keeps failing, or None. Unknown outcomes are skipped.

    The one rule for "keeps failing" (``suture stats`` and the template's
    status both use it): the last FAILING_STREAK decided outcomes were all
    Ineffective, or over at least FAILING_MIN_RUNS the effective rate's upper
    Wilson bound is below 0.5.
    """
    decided = [o for o in outcomes if o in ("Effective", "Ineffective")]
    tail = decided[-FAILING_STREAK:]
    if len(tail) == FAILING_STREAK and all(o == "Ineffective" for o in tail):
        return f"the last {FAILING_STREAK} decided runs were Ineffective"
    wins = decided.count("Effective")
    if len(decided) >= FAILING_MIN_RUNS and wilson_interval(wins, len(decided))[1] < 0.5:
        return f"{wins} of {len(decided)} decided runs were Effective (surely below one half)"
    return None


def _insert(engine: AsyncEngine) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both PostgreSQL and SQLite do)."""
    return pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


def _run_values(run: RunRecord) -> dict[str, Any]:
    """A run as its row's columns (labels, annotations and features as JSON)."""
    return {
        "run_id": run.run_id,
        "alert_name": run.alert_name,
        "fingerprint": run.fingerprint,
        "labels": json.dumps(dict(run.labels), sort_keys=True),
        "annotations": json.dumps(dict(run.annotations), sort_keys=True),
        "features": json.dumps(list(run.features)),
        "template": run.template,
        "target": run.target,
        "phase": run.phase,
        "score": run.score,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "template_generation": run.template_generation,
        "template_hash": run.template_hash,
        "attempts": run.attempts,
        "namespace": run.namespace,
        "remediation": run.remediation,
        "target_uid": run.target_uid,
    }


def _upsert(engine: AsyncEngine, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
    statement = _insert(engine)(table).values(**values)
    return statement.on_conflict_do_update(index_elements=keys, set_={k: v for k, v in values.items() if k not in keys})


class History:
    """Reads and writes the history tables. Every write is an upsert: replaying a record changes nothing."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record_run(self, run: RunRecord) -> None:
        """Insert or update a run (the phase and finish time change as it goes)."""
        async with self._engine.begin() as conn:
            await conn.execute(_upsert(self._engine, runs, _run_values(run), ["run_id"]))

    async def record_start(self, run: RunRecord) -> None:
        """Insert a run as it starts; a run already recorded is left as it is.

        Replaying a start (kopf retrying the handler, a second replica) must
        not undo what a later :meth:`record_run` wrote (its phase, its finish).
        """
        statement = _insert(self._engine)(runs).values(**_run_values(run))
        async with self._engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_nothing(index_elements=["run_id"]))

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
        """The starts the safety rules weigh: how many runs of ``template`` started at or after ``since``
        (its Remediations in ``namespace``, or anywhere when None), and the latest on ``target_uid`` at or
        after ``target_since``. Two indexed queries; ``exclude_run_id`` (the run asking) is not counted."""
        scoped = [runs.c.template == template, runs.c.run_id != exclude_run_id]
        if namespace is not None:
            scoped.append(runs.c.namespace == namespace)
        count = select(func.count()).select_from(runs).where(*scoped, runs.c.started_at >= since)
        async with self._engine.connect() as conn:
            started = int((await conn.execute(count)).scalar_one())
            last = None
            if target_uid and target_since is not None:
                latest = (
                    select(runs.c.remediation, runs.c.namespace, runs.c.started_at)
                    .where(*scoped, runs.c.target_uid == target_uid, runs.c.started_at >= target_since)
                    .order_by(runs.c.started_at.desc())
                    .limit(1)
                )
                row = (await conn.execute(latest)).first()
                if row is not None:
                    last = PriorStart(remediation=str(row[0]), namespace=str(row[1]), started_at=_aware(row[2]))
        return RecentStarts(started=started, last_on_target=last)

    async def record_step(self, step: StepRecord) -> None:
        """Insert or update one step of a run (the run must be recorded first)."""
        values = {
            "run_id": step.run_id,
            "step": step.step,
            "action": step.action,
            "phase": step.phase,
            "attempts": step.attempts,
            "started_at": step.started_at,
            "finished_at": step.finished_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_upsert(self._engine, steps, values, ["run_id", "step"]))

    async def record_outcome(
        self,
        *,
        run_id: str,
        outcome: str,
        decided_at: datetime,
        resolved_after_seconds: float | None = None,
        message: str = "",
    ) -> None:
        """Record (or correct) the verified outcome of a run. Raises ValueError for an unknown outcome word."""
        if outcome not in ("Effective", "Ineffective", "Unknown"):
            raise ValueError(f"outcome must be Effective, Ineffective or Unknown, not {outcome!r}")
        values = {
            "run_id": run_id,
            "outcome": outcome,
            "decided_at": decided_at,
            "resolved_after_seconds": resolved_after_seconds,
            "message": message,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_upsert(self._engine, outcomes, values, ["run_id"]))

    async def run(self, run_id: str) -> dict[str, Any] | None:
        """One run with its steps and outcome, JSON-ready; None if unknown."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.run_id == run_id))).mappings().first()
            if row is None:
                return None
            step_rows = (
                (await conn.execute(select(steps).where(steps.c.run_id == run_id).order_by(steps.c.started_at)))
                .mappings()
                .all()
            )
            outcome = (await conn.execute(select(outcomes).where(outcomes.c.run_id == run_id))).mappings().first()
        out = dict(row)
        for key in ("labels", "annotations", "features"):
            out[key] = json.loads(out[key])
        out["steps"] = [dict(s) for s in step_rows]
        out["outcome"] = dict(outcome) if outcome else None
        return out

    async def runs_since(self, *, since: datetime, template: str | None = None, target: str | None = None) -> int:
        """How many runs started at or after ``since`` (for a template, a target, or both): rate limits, cooldowns."""
        query = select(runs.c.run_id).where(runs.c.started_at >= since)
        if template is not None:
            query = query.where(runs.c.template == template)
        if target is not None:
            query = query.where(runs.c.target == target)
        async with self._engine.connect() as conn:
            return len((await conn.execute(query)).all())

    async def outcomes_by_template(self) -> dict[tuple[str, str], list[str]]:
        """Each (namespace, template)'s outcomes, oldest decision first (what :func:`keeps_failing` reads)."""
        query = (
            select(runs.c.namespace, runs.c.template, outcomes.c.outcome)
            .join(outcomes, outcomes.c.run_id == runs.c.run_id)
            .order_by(outcomes.c.decided_at, runs.c.started_at)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out: dict[tuple[str, str], list[str]] = {}
        for namespace, template, outcome in rows:
            out.setdefault((str(namespace or ""), str(template)), []).append(str(outcome))
        return out

    async def template_record(self, template: str, *, namespace: str | None) -> TemplateRecord:
        """The runs of template ``template`` whose Remediations are in ``namespace``, or anywhere when None.

        A namespaced template runs only for Remediations in its own namespace,
        so two teams' templates of one name are two records; a
        ClusterWorkflowTemplate (None) counts every namespace's runs, and rows
        written before the history kept a namespace (revision 0004, empty
        namespace) count only there, as the cooldowns count them.
        """
        query = (
            select(outcomes.c.outcome)
            .select_from(runs.join(outcomes, outcomes.c.run_id == runs.c.run_id, isouter=True))
            .where(runs.c.template == template)
            .order_by(outcomes.c.decided_at, runs.c.started_at)
        )
        if namespace is not None:
            query = query.where(runs.c.namespace == namespace)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return TemplateRecord(runs=len(rows), outcomes=[str(o) for (o,) in rows if o is not None])

    async def step_timings(self) -> list[StepTiming]:
        """Every step with a start and an end, with its run's duration (for slow steps)."""
        query = select(
            steps.c.run_id,
            runs.c.template,
            steps.c.step,
            steps.c.action,
            steps.c.started_at,
            steps.c.finished_at,
            runs.c.started_at.label("run_started"),
            runs.c.finished_at.label("run_finished"),
        ).join(runs, runs.c.run_id == steps.c.run_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        timed = [r for r in rows if r["started_at"] is not None and r["finished_at"] is not None]
        by_run: dict[str, float] = {}
        for r in timed:
            by_run[r["run_id"]] = by_run.get(r["run_id"], 0.0) + _seconds(r["started_at"], r["finished_at"])
        out = []
        for r in timed:
            run_seconds = by_run[r["run_id"]]
            if r["run_started"] is not None and r["run_finished"] is not None:
                run_seconds = max(run_seconds, _seconds(r["run_started"], r["run_finished"]))
            out.append(
                StepTiming(
                    run_id=str(r["run_id"]),
                    template=str(r["template"]),
                    step=str(r["step"]),
                    action=str(r["action"]),
                    seconds=_seconds(r["started_at"], r["finished_at"]),
                    run_seconds=run_seconds,
                )
            )
        return out

    async def recent(self, *, limit: int = 50, template: str | None = None) -> list[dict[str, Any]]:
        """The latest runs, newest first, each with its outcome (None while undecided), JSON-ready."""
        query = (
            select(
                runs.c.run_id,
                runs.c.started_at,
                runs.c.alert_name,
                runs.c.template,
                runs.c.target,
                runs.c.phase,
                runs.c.score,
                runs.c.template_generation,
                runs.c.template_hash,
                outcomes.c.outcome,
                outcomes.c.resolved_after_seconds,
            )
            .join(outcomes, outcomes.c.run_id == runs.c.run_id, isouter=True)
            .order_by(runs.c.started_at.desc())
            .limit(limit)
        )
        if template is not None:
            query = query.where(runs.c.template == template)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def stats(self, *, by_version: bool = False) -> list[TemplateStats]:
        """Per (template, namespace, alert name): runs, outcomes and the median time to resolve of effective runs.

        With ``by_version`` per template version too (the spec's content hash):
        an edited template keeps everything learned under its name, and each
        version's record can still be told apart.
        """
        query = select(
            runs.c.template,
            runs.c.namespace,
            runs.c.alert_name,
            runs.c.template_hash,
            outcomes.c.outcome,
            outcomes.c.resolved_after_seconds,
        ).join(outcomes, outcomes.c.run_id == runs.c.run_id, isouter=True)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        groups: dict[tuple[str, str, str, str], list[tuple[str | None, float | None]]] = {}
        for template, namespace, alert_name, version, outcome, resolved in rows:
            key = (str(template), str(namespace or ""), str(alert_name), str(version or "") if by_version else "")
            seconds = None if resolved is None else float(str(resolved))
            groups.setdefault(key, []).append((None if outcome is None else str(outcome), seconds))
        out = []
        for (template, namespace, alert_name, version), items in sorted(groups.items()):
            times = [t for o, t in items if o == "Effective" and t is not None]
            out.append(
                TemplateStats(
                    template=template,
                    alert_name=alert_name,
                    runs=len(items),
                    effective=sum(o == "Effective" for o, _ in items),
                    ineffective=sum(o == "Ineffective" for o, _ in items),
                    unknown=sum(o == "Unknown" for o, _ in items),
                    median_resolve_seconds=statistics.median(times) if times else None,
                    version=version,
                    namespace=namespace,
                )
            )
        return out


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds(start: datetime, end: datetime) -> float:
    # SQLite hands back naive datetimes for aware ones stored; both ends come from the same column type.
    return max(0.0, (end - start).total_seconds())
