"""Pod and workload lifecycle: restart, roll back, quarantine, clean up, suspend and resume CronJobs."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionSpec

ACTIONS: list[ActionSpec[Any]] = []
