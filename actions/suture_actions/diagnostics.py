"""Diagnostics: collect an object's state, owner chain, events and logs."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionSpec

ACTIONS: list[ActionSpec[Any]] = []
