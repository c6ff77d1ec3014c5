"""A 404 on create: a missing namespace is a suppression, a missing Remediation type is a retry (nothing lost)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from suture.api import AlertmanagerPayload
from suture.kube import KubeRequest, KubeResponse
from suture.webhook import Intake, RetryLater
from tests.unit.webhook.conftest import alert, payload
from tests.unit.webhook.fakes import ReceiverApi


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


def answer_creates_with(kube: ReceiverApi, response: KubeResponse) -> None:
    async def refuse(request: KubeRequest) -> KubeResponse | None:
        if request.method == "POST" and request.path.endswith("/remediations"):
            return response
        return None

    kube.api.before.append(refuse)


async def test_a_missing_namespace_is_suppressed_with_its_reason(intake: Intake, kube: ReceiverApi) -> None:
    # What kube-apiserver answers for a create in a namespace that does not exist.
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'namespaces "shop" not found',
        "reason": "NotFound",
        "details": {"name": "shop", "kind": "namespaces"},
        "code": 404,
    }
    answer_creates_with(kube, KubeResponse.json(404, status))
    summary = await intake.receive(_parse(payload(alert())))
    assert [s["reason"] for s in summary.suppressed] == ["NamespaceNotFound"]


async def test_a_remediation_type_not_served_asks_for_a_retry_and_names_the_crd(
    intake: Intake, kube: ReceiverApi, caplog: pytest.LogCaptureFixture
) -> None:
    # What kube-apiserver answers when the CRD is not installed: plain text, no Status details.
    answer_creates_with(kube, KubeResponse(404, {"Content-Type": "text/plain"}, b"404 page not found\n"))
    with caplog.at_level(logging.ERROR, logger="suture.webhook"), pytest.raises(RetryLater) as retry:
        await intake.receive(_parse(payload(alert())))
    assert "remediations.suture.dev" in str(retry.value)
    assert any("remediations.suture.dev" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert kube.remediations() == []
