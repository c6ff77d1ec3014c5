"""suture approve, reject and cancel: one merge patch of the Remediation's spec each."""

from __future__ import annotations

import pytest

from suture.approvals import answer_approval, request_cancel, whoami
from suture.kube import ApiError
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation


async def test_an_answer_is_a_merge_patch_of_the_spec_and_returns_the_stored_approval() -> None:
    api = FakeKubeApi()
    api.add(remediation())
    kube = api.client()
    approval = await answer_approval(kube, namespace="shop", name="crashloop-1", decision="Rejected", reason="no")
    assert approval == {"decision": "Rejected", "reason": "no"}
    (write,) = api.writes()
    assert (write.method, write.subresource, write.body) == (
        "PATCH",
        None,
        {"spec": {"approval": {"decision": "Rejected", "reason": "no"}}},
    )
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
