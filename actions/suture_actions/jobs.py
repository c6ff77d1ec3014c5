"""The escape hatch: run a Job from a pod template and wait for it."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionSpec

ACTIONS: list[ActionSpec[Any]] = []
