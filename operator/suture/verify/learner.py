"""The Recommender as the runs' :class:`~suture.runs.learning.Learner`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture.kube import KubeClient
from suture.recommend import OUTCOMES, Context, Outcome, Recommender
from suture.runs import Learner
from suture.store import History
from suture.verify.record import keep_run
from suture.verify.template_status import refresh_template_status


class RecommenderLearner:
    """Hands outcomes to a Recommender in a worker thread (it writes its index to disk)."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender

    async def record(
        self,
        *,
        alert: Mapping[str, Any],
        template: str,
        outcome: str,
        run_id: str,
        remediation: Mapping[str, Any] | None = None,
        phase: str | None = None,
        template_version: str = "",
    ) -> None:
        """Record the outcome (once per ``run_id``); an outcome the recommender does not know is a ValueError."""
        known: dict[str, Outcome] = {o: o for o in OUTCOMES}
        if outcome not in known:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        await asyncio.to_thread(
            self.recommender.record_outcome,
            dict(alert),
            template,
            known[outcome],
            context=Context.carried_by(alert),
            run_id=run_id,
            version=template_version,
        )


class HistoryLearner:
    """Keeps failed and rolled-back runs (with their steps) in the SQL history, refreshes their template's
    status (stats, ``Failing``), then tells ``inner``.

    Verified runs reach the history through the Verifier; this covers the runs
    that never got to ``Verifying``. Either part failing is logged by the
    caller; the history write comes first so the ranking never knows more
    than ``suture stats`` shows.
    """

    def __init__(self, *, history: History, inner: Learner | None = None, kube: KubeClient | None = None) -> None:
        self.history = history
        self.inner = inner
        self.kube = kube

    async def record(
        self,
        *,
        alert: Mapping[str, Any],
        template: str,
        outcome: str,
        run_id: str,
        remediation: Mapping[str, Any] | None = None,
        phase: str | None = None,
        template_version: str = "",
    ) -> None:
        """Upsert the run with ``outcome`` when it comes with its Remediation; then the inner learner."""
        if remediation is not None and phase is not None:
            await keep_run(
                self.history,
                remediation,
                phase=phase,
                outcome=outcome,
                decided_at=datetime.now(UTC),
                message=f"the run ended {phase}",
                kube=self.kube,
            )
            if self.kube is not None:  # the template's stats and Failing count failed runs too
                await refresh_template_status(kube=self.kube, history=self.history, body=remediation, outcome=outcome)
        if self.inner is not None:
            await self.inner.record(
                alert=alert,
                template=template,
                outcome=outcome,
                run_id=run_id,
                remediation=remediation,
                phase=phase,
                template_version=template_version,
            )
