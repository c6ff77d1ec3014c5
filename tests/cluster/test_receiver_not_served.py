"""What the real API server answers for the two kinds of 404 the receiver tells apart."""

from __future__ import annotations

import json
import uuid

import pytest

from suture.api import AlertmanagerPayload
from suture.errors import ApiError
from suture.kube import KubeClient
from suture.webhook import Intake, PriorityRanker, StaticCatalog
from suture.webhook.intake import _missing_kind
from tests.unit.webhook.conftest import alert, payload, template


async def test_a_create_in_a_missing_namespace_is_suppressed_as_namespace_not_found(
    kube: KubeClient, suture_crds: list[str]
) -> None:
    missing = f"gone-{uuid.uuid4().hex[:8]}"
    intake = Intake(
        kube=kube,
        catalog=StaticCatalog([template("fix", namespace=missing)]),
        ranker=PriorityRanker(),
        home_namespace=missing,
    )
    notification = AlertmanagerPayload.model_validate_json(json.dumps(payload(alert(namespace=missing))))
    summary = await intake.receive(notification)
    assert [s["reason"] for s in summary.suppressed] == ["NamespaceNotFound"]


async def test_a_resource_type_not_served_answers_a_404_without_details(kube: KubeClient) -> None:
    # What a create meets when the Remediation CRD is not installed: the receiver must not call it a namespace.
    with pytest.raises(ApiError) as caught:
        await kube.request("POST", "/apis/suture.dev/v1alpha1/namespaces/default/notserveds", body={})
    assert caught.value.status == 404
    assert _missing_kind(caught.value) == ""
