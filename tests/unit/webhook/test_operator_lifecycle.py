"""The receiver's part in the operator's lifecycle: a shutting-down replica refuses with 503; the chosen
template's recommendation score is exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from suture.webhook import WEBHOOK_PATH, Intake, authenticator_from_files, build_app
from tests.unit.webhook.conftest import AUTH, alert, payload
from tests.unit.webhook.fakes import ReceiverApi


async def _post(client: TestClient[Any, Any], body: Any) -> tuple[int, dict[str, Any]]:
    headers = {**AUTH, "Content-Type": "application/json"}
    async with client.post(WEBHOOK_PATH, data=json.dumps(body), headers=headers) as response:
        return response.status, await response.json()


async def test_a_replica_shutting_down_answers_503_so_alertmanager_retries_elsewhere(
    intake: Intake, token_file: Path, kube: ReceiverApi
) -> None:
    stopping = False
    authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    app = build_app(intake=intake, authenticator=authenticator, stopping=lambda: stopping)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        status, _ = await _post(client, payload(alert(fingerprint="aaaa000000000001")))
        assert status == 200
        stopping = True
        status, body = await _post(client, payload(alert(fingerprint="aaaa000000000002")))
        assert status == 503
        assert body == {"error": "this replica is shutting down; retry", "field": None}
    assert len(kube.remediations()) == 1  # nothing stored for the refused notification


async def test_the_chosen_templates_recommendation_score_is_exported(client: TestClient[Any, Any]) -> None:
    def observed() -> float:
        return REGISTRY.get_sample_value("suture_recommendation_score_count", {"template": "restart-pod"}) or 0.0

    before = observed()
    status, _ = await _post(client, payload(alert(fingerprint="bbbb000000000001")))
    assert status == 200
    assert observed() == before + 1
    async with client.get("/metrics") as response:
        assert 'suture_recommendation_score_bucket{le="1.0",template="restart-pod"}' in await response.text()
