"""The Recommender as the runs' :class:`~suture.runs.learning.Learner`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from suture.recommend import OUTCOMES, Outcome, Recommender


class RecommenderLearner:
    """Hands outcomes to a Recommender in a worker thread (it writes its index to disk)."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender

    async def record(self, *, alert: Mapping[str, Any], template: str, outcome: str, run_id: str) -> None:
        """Record the outcome (once per ``run_id``); an outcome the recommender does not know is a ValueError."""
        known: dict[str, Outcome] = {o: o for o in OUTCOMES}
        if outcome not in known:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        await asyncio.to_thread(self.recommender.record_outcome, dict(alert), template, known[outcome], run_id=run_id)
