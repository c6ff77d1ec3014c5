"""The API server, not the client, records who answered an approval."""

from __future__ import annotations

from typing import Any

import pytest

from suture.api import API_VERSION
from suture.approvals import answer_approval, request_cancel, whoami
from suture.kube import KubeClient
from tests.conftest import wait_for


async def _remediation(kube: KubeClient, namespace: str) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": "r1"},
        "spec": {"templateRef": {"name": "any"}},
    }
    await kube.create("Remediation", body, namespace, api_version=API_VERSION)


async def _grant_bob(kube: KubeClient, namespace: str) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "approver"},
        "rules": [{"apiGroups": ["suture.dev"], "resources": ["remediations"], "verbs": ["get", "patch"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "bob-approves"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "approver"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}],
    }
    await kube.create("Role", role, namespace)
    await kube.create("RoleBinding", binding, namespace)


async def _patch_as(kube: KubeClient, user: str, namespace: str, body: dict[str, Any]) -> Any:
    return await kube.request(
        "PATCH",
        f"/apis/{API_VERSION}/namespaces/{namespace}/remediations/r1",
        body=body,
        content_type="application/merge-patch+json",
        headers={"Impersonate-User": user},
    )


async def test_approver_is_stamped_by_the_api_server(kube: KubeClient, namespace: str, suture_crds: list[str]) -> None:
    await _remediation(kube, namespace)
    me = await whoami(kube)
    assert me

    # The policy takes effect asynchronously after it is created: wait until it stamps.
    # Each attempt changes the reason, because an unchanged approval is (rightly) not re-stamped.
    attempts = iter(range(1000))

    async def stamped() -> dict[str, Any] | None:
        reason = f"ok {next(attempts)}"
        approval = await answer_approval(
            kube, namespace=namespace, name="r1", decision="Approved", reason=reason, step="ask"
        )
        return approval if approval.get("by") == me else None

    approval = await wait_for(stamped, timeout=30, what="the approval stamp policy to take effect")
    assert approval["decision"] == "Approved"
    assert approval["by"] == me
    assert approval["reason"].startswith("ok ")


async def test_a_forged_name_is_overwritten(kube: KubeClient, namespace: str, suture_crds: list[str]) -> None:
    await _remediation(kube, namespace)
    await _grant_bob(kube, namespace)
    me = await whoami(kube)

    async def bob_stamped() -> Any:
        stored = await _patch_as(
            kube, "bob", namespace, {"spec": {"approval": {"decision": "Rejected", "by": me, "reason": "no"}}}
        )
        return stored if stored["spec"]["approval"]["by"] == "bob" else None

    stored = await wait_for(bob_stamped, timeout=30, what="bob's answer stamped as bob")
    assert stored["spec"]["approval"]["decision"] == "Rejected"

    # Editing only `by` afterwards is a change to the approval too: re-stamped, not accepted.
    again = await _patch_as(kube, "bob", namespace, {"spec": {"approval": {"by": "alice"}}})
    assert again["spec"]["approval"]["by"] == "bob"


async def test_cancel_sets_the_flag(kube: KubeClient, namespace: str, suture_crds: list[str]) -> None:
    await _remediation(kube, namespace)
    await request_cancel(kube, namespace=namespace, name="r1")
    got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
    assert got["spec"]["cancel"] is True


async def test_cli_approve_prints_the_stamped_user(
    kube: KubeClient, kubeconfig: str, namespace: str, suture_crds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from suture.cli import main

    await _remediation(kube, namespace)
    me = await whoami(kube)
    code = await asyncio.to_thread(
        main, ["approve", "r1", "-n", namespace, "--kubeconfig", kubeconfig, "--reason", "looks right", "--step", "ask"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"remediation {namespace}/r1: Approved ask by {me}" in out
