"""Answering approvals and controlling runs: what ``suture approve|reject|cancel|pause|resume|retry`` do.

Each is one merge patch of the Remediation's spec. Who answered is not taken
from the client: the approval-stamp admission policy (see
:mod:`suture.admission`) writes the authenticated user into ``spec.approval.by``.
"""

from __future__ import annotations

from typing import Any, Literal

from suture.api import API_VERSION
from suture.errors import ConflictError
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


class NoPendingApproval(ConflictError):
    """The Remediation waits for no approval, and the caller did not name one."""


async def pending_step(kube: KubeClient, *, namespace: str, name: str) -> str:
    """The approval a Remediation waits for now (``status.approval.step`` while Pending)."""
    remediation = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
    recorded = (remediation.get("status") or {}).get("approval") or {}
    if recorded.get("decision") != "Pending" or not recorded.get("step"):
        phase = (remediation.get("status") or {}).get("phase", "Pending")
        raise NoPendingApproval(
            f"remediation {namespace}/{name} is {phase} and waits for no approval; "
            "name the one to answer ahead of time with --step"
        )
    return str(recorded["step"])


async def answer_approval(
    kube: KubeClient, *, namespace: str, name: str, decision: Answer, reason: str = "", step: str | None = None
) -> dict[str, Any]:
    """Approve or reject one approval of a Remediation; returns the stored answer.

    The answer names the approval it is for: ``step``, or the one the
    Remediation waits for now. It never passes another approval; an answer
    for a later one is kept until the run asks it. Repeating it changes nothing.
    """
    step = step or await pending_step(kube, namespace=namespace, name=name)
    body = {"spec": {"approval": {"decision": decision, "reason": reason, "step": step}}}
    stored = await kube.patch("Remediation", name, body, namespace, api_version=API_VERSION)
    approval: dict[str, Any] = stored.get("spec", {}).get("approval", {})
    return approval


async def request_cancel(kube: KubeClient, *, namespace: str, name: str) -> None:
    """Ask the operator to stop a run at its next step boundary."""
    await kube.patch("Remediation", name, {"spec": {"cancel": True}}, namespace, api_version=API_VERSION)


async def request_pause(kube: KubeClient, *, namespace: str, name: str, paused: bool) -> None:
    """Ask the operator to pause a run at its next step boundary, or to continue a paused one."""
    await kube.patch("Remediation", name, {"spec": {"paused": paused}}, namespace, api_version=API_VERSION)


async def request_retry(kube: KubeClient, *, namespace: str, name: str) -> int:
    """Ask the operator to run a Failed run again from the step that failed; returns the attempt asked for.

    One more retry than the status records, written with the resourceVersion
    read: two people retrying at once ask for one retry, not two. Raises
    ConflictError when the run is not Failed (nothing to retry).
    """
    remediation = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
    status = remediation.get("status") or {}
    if status.get("phase") != "Failed":
        raise ConflictError(
            f"remediation {namespace}/{name} is {status.get('phase', 'Pending')}: only a Failed run can be retried"
        )
    retry = len(status.get("retries") or []) + 1
    version = (remediation.get("metadata") or {}).get("resourceVersion")
    body = {"metadata": {"resourceVersion": version}, "spec": {"retry": retry}}
    await kube.patch("Remediation", name, body, namespace, api_version=API_VERSION)
    return retry + 1
