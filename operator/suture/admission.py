"""Admission policies the API server enforces for Suture, shipped beside the CRDs.

The approval stamp: whenever a request changes a Remediation's
``spec.approval``, the API server itself writes the authenticated user into
``spec.approval.by``. Whatever a client put there is overwritten, so the record
of who approved cannot be forged by writing a name into the spec. It needs
MutatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.36+).
"""

from __future__ import annotations

from typing import Any

from suture.api import GROUP, VERSION
from suture.kube import ApiError, KubeClient

APPROVAL_POLICY = "suture-approval-stamp"


def approval_stamp_policy() -> list[dict[str, Any]]:
    """The MutatingAdmissionPolicy and its binding."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": APPROVAL_POLICY, "labels": {"app.kubernetes.io/part-of": "suture"}},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["remediations"],
                    }
                ]
            },
            "matchConditions": [
                {
                    # Any change to the approval, including an edit of `by` alone, is re-stamped.
                    "name": "approval-changed",
                    "expression": "has(object.spec.approval) && (oldObject == null || "
                    "!has(oldObject.spec.approval) || oldObject.spec.approval != object.spec.approval)",
                }
            ],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {
                        "expression": "Object{spec: Object.spec{approval: Object.spec.approval{"
                        "by: request.userInfo.username}}}"
                    },
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": APPROVAL_POLICY, "labels": {"app.kubernetes.io/part-of": "suture"}},
        "spec": {"policyName": APPROVAL_POLICY},
    }
    return [policy, binding]


async def approval_stamp_problem(kube: KubeClient) -> str | None:
    """None when the approval-stamp policy and its binding are installed; otherwise what is wrong, in words.

    Without them the API server does not stamp who approved, so ``spec.approval.by``
    is whatever the client wrote: the operator says so loudly at start-up.
    """
    for kind in ("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"):
        try:
            found = await kube.get_or_none(kind, APPROVAL_POLICY, api_version="admissionregistration.k8s.io/v1")
        except ApiError as exc:
            return f"cannot check the {kind} {APPROVAL_POLICY!r} ({exc.status} {exc.reason})"
        if found is None:
            return f"the {kind} {APPROVAL_POLICY!r} is not installed (kubectl apply -f crds/)"
    return None
