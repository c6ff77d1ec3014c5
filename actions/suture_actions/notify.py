"""People: post a message to a webhook (Slack-compatible)."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionSpec

ACTIONS: list[ActionSpec[Any]] = []
