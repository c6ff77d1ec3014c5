"""Answering approvals and cancelling runs: what ``suture approve|reject|cancel`` do.

Each is one merge patch of the Remediation's spec. Who answered is not taken
from the client: the approval-stamp admission policy (see
:mod:`suture.admission`) writes the authenticated user into ``spec.approval.by``.
"""

from __future__ import annotations

from typing import Any, Literal

from suture.api import API_VERSION
from suture.kube import KubeClient

Answer = Literal["Approved", "Rejected"]


async def whoami(kube: KubeClient) -> str:
    """The username the API server authenticates this client as (SelfSubjectReview)."""
    review = await kube.request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    return str(review.get("status", {}).get("userInfo", {}).get("username", ""))


async def answer_approval(
    kube: KubeClient, *, namespace: str, name: str, decision: Answer, reason: str = ""
) -> dict[str, Any]:
    """Approve or reject the pending approval of a Remediation; returns the stored approval."""
    body = {"spec": {"approval": {"decision": decision, "reason": reason}}}
    stored = await kube.patch("Remediation", name, body, namespace, api_version=API_VERSION)
    approval: dict[str, Any] = stored.get("spec", {}).get("approval", {})
    return approval


async def request_cancel(kube: KubeClient, *, namespace: str, name: str) -> None:
    """Ask the operator to stop a run at its next step boundary."""
    await kube.patch("Remediation", name, {"spec": {"cancel": True}}, namespace, api_version=API_VERSION)
