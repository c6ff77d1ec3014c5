"""suture approve, reject and cancel: one merge patch of the Remediation's spec each."""

from __future__ import annotations

import pytest

from suture.approvals import NoPendingApproval, answer_approval, request_cancel, whoami
from suture.kube import ApiError
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation


async def test_an_answer_is_a_merge_patch_of_the_spec_and_returns_the_stored_approval() -> None:
    api = FakeKubeApi()
    api.add(remediation())
    kube = api.client()
    approval = await answer_approval(
        kube, namespace="shop", name="crashloop-1", decision="Rejected", reason="no", step="ask"
    )
    assert approval == {"decision": "Rejected", "reason": "no", "step": "ask"}
    (write,) = api.writes()
    assert (write.method, write.subresource, write.body) == (
        "PATCH",
        None,
        {"spec": {"approval": {"decision": "Rejected", "reason": "no", "step": "ask"}}},
    )


async def test_an_answer_without_a_step_answers_the_approval_pending_now() -> None:
    api = FakeKubeApi()
    waiting = remediation()
    waiting["status"] = {"phase": "WaitingApproval", "approval": {"decision": "Pending", "step": "roll@wave2"}}
    api.add(waiting)
    kube = api.client()
    approval = await answer_approval(kube, namespace="shop", name="crashloop-1", decision="Approved")
    assert approval["step"] == "roll@wave2"


async def test_answering_when_nothing_is_pending_says_so() -> None:
    api = FakeKubeApi()
    api.add(remediation())
    with pytest.raises(NoPendingApproval, match="waits for no approval"):
        await answer_approval(api.client(), namespace="shop", name="crashloop-1", decision="Approved")
    assert api.get("Remediation", "crashloop-1", "shop")["spec"]["templateRef"]["name"] == "restart"


async def test_cancel_sets_the_spec_flag() -> None:
    api = FakeKubeApi()
    api.add(remediation())
    await request_cancel(api.client(), namespace="shop", name="crashloop-1")
    assert api.get("Remediation", "crashloop-1", "shop")["spec"]["cancel"] is True


async def test_answering_a_missing_remediation_is_a_404() -> None:
    with pytest.raises(ApiError) as caught:
        await answer_approval(FakeKubeApi().client(), namespace="shop", name="ghost", decision="Approved")
    assert caught.value.not_found


async def test_whoami_is_the_name_the_api_server_authenticates() -> None:
    api = FakeKubeApi(user="system:serviceaccount:shop:ops")
    assert await whoami(api.client()) == "system:serviceaccount:shop:ops"


async def test_the_operator_notices_when_approvers_would_not_be_authenticated() -> None:
    from suture.admission import approval_stamp_policy, approval_stamp_problem

    api = FakeKubeApi()
    missing = await approval_stamp_problem(api.client())
    assert missing == ("the MutatingAdmissionPolicy 'suture-approval-stamp' is not installed (kubectl apply -f crds/)")
    api.add(*approval_stamp_policy())
    assert await approval_stamp_problem(api.client()) is None
