"""Alerts for the recommender's tests."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count()


def alert(
    name: str = "KubePodCrashLooping",
    *,
    pod: str | None = None,
    description: str = "Pod is in waiting state (reason: CrashLoopBackOff).",
    **labels: str,
) -> dict[str, Any]:
    """One Alertmanager v4 alert with a fresh fingerprint (each call is a new occurrence)."""
    n = next(_counter)
    return {
        "status": "firing",
        "labels": {"alertname": name, "namespace": "shop", "pod": pod or f"web-{n:05d}-x{n:04d}", **labels},
        "annotations": {"description": description},
        "fingerprint": f"fp{n:08d}",
    }
