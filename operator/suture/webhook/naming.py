"""Deterministic Remediation names: one alert occurrence, one name, on every replica.

The name depends on the alert's fingerprint and startsAt only, so a repeated
notification, both members of an HA Alertmanager pair and every Suture replica
compute the same one and the API server's AlreadyExists does the deduplication.
No label text reaches the name: alert labels are untrusted input.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime

PREFIX = "alert-"
DIGEST_CHARS = 20  # 80 bits: collisions are not a practical concern


@functools.lru_cache(maxsize=4096)  # asked several times per alert (name, context, Remediation); strftime is slow
def occurrence_time(starts_at: datetime) -> str:
    """startsAt in one canonical RFC 3339 form (UTC, microseconds), whatever zone it came in."""
    return starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def remediation_name(*, fingerprint: str, starts_at: datetime) -> str:
    """The Remediation name of the occurrence of alert ``fingerprint`` that started at ``starts_at``.

    Pure and stable across processes and releases: changing it would let a
    repeated notification start a second run.
    """
    digest = hashlib.sha256(f"{fingerprint}|{occurrence_time(starts_at)}".encode()).hexdigest()
    return PREFIX + digest[:DIGEST_CHARS]
