"""Posting Kubernetes Events about a Remediation."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from suture.api import API_VERSION
from suture.engine import now_iso
from suture.kube import ApiError, KubeClient

logger = logging.getLogger("suture.events")
MAX_MESSAGE = 1024  # the API server truncates longer Event messages anyway


async def post_event(
    kube: KubeClient, *, namespace: str, name: str, uid: str, reason: str, message: str, warning: bool = False
) -> None:
    """Post one Event about a Remediation; failures are swallowed (Events are best effort)."""
    stamp = now_iso()
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": "Remediation",
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "type": "Warning" if warning else "Normal",
        "source": {"component": "suture"},
        "reportingComponent": "suture.dev/operator",
        "reportingInstance": "suture",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        await kube.create("Event", body, namespace, api_version="v1")
    except ApiError as exc:
        logger.debug("could not post event %s on %s/%s: %s", reason, namespace, name, exc)
