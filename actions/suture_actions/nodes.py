"""Node management: cordon, uncordon, drain, migrate a workload off a node."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionSpec

ACTIONS: list[ActionSpec[Any]] = []
