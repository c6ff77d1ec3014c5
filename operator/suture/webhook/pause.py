"""The global pause: one ConfigMap every replica reads, written by ``suture pause --all``.

Stored in the cluster rather than in a process, so a pause holds across
restarts and replicas. While paused, the receiver records nothing new: firing
alerts are answered 200 and counted as suppressed (reason Paused).
"""

from __future__ import annotations

from datetime import UTC, datetime

from suture.kube import KubeClient

PAUSE_CONFIGMAP = "suture-pause"


async def read_pause(kube: KubeClient, *, namespace: str) -> str | None:
    """The pause's reason when remediation is paused, None when it is not.

    Raises what the client raises (ApiError, connection errors) when the API server cannot answer.
    """
    found = await kube.get_or_none("ConfigMap", PAUSE_CONFIGMAP, namespace)
    if found is None:
        return None
    data = found.get("data") or {}
    if data.get("paused") != "true":
        return None
    return data.get("reason") or "no reason given"


async def set_pause(kube: KubeClient, *, namespace: str, paused: bool, reason: str = "") -> None:
    """Pause (or resume) remediation of every alert; idempotent."""
    data = {"paused": "true" if paused else "false", "reason": reason, "since": datetime.now(UTC).isoformat()}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": PAUSE_CONFIGMAP}, "data": data}
    if await kube.get_or_none("ConfigMap", PAUSE_CONFIGMAP, namespace) is None:
        await kube.create("ConfigMap", body, namespace)
    else:
        await kube.patch("ConfigMap", PAUSE_CONFIGMAP, {"data": data}, namespace)
