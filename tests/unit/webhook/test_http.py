"""The receiver's HTTP contract: every refusal is a 4xx with a JSON body naming the field."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from suture.webhook import WEBHOOK_PATH
from tests.unit.webhook.conftest import AUTH, alert, payload
from tests.unit.webhook.fakes import ReceiverApi


async def _post(client: TestClient[Any, Any], body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    headers = {**AUTH, "Content-Type": "application/json", **kwargs.pop("headers", {})}
    data = body if isinstance(body, bytes | str) or hasattr(body, "__aiter__") else json.dumps(body)
    async with client.post(WEBHOOK_PATH, data=data, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def test_a_valid_notification_is_answered_200_with_a_summary(
    client: TestClient[Any, Any], kube: ReceiverApi
) -> None:
    status, body = await _post(client, payload(alert()))
    assert status == 200
    assert len(body["created"]) == 1
    assert body["created"][0].startswith("alert-")
    assert body == {
        "created": body["created"],
        "existing": [],
        "resolved": [],
        "resolvedUnknown": 0,
        "unmatched": 0,
        "suppressed": [],
    }
    assert len(kube.remediations()) == 1


async def test_no_credentials_is_401(client: TestClient[Any, Any], kube: ReceiverApi) -> None:
    async with client.post(WEBHOOK_PATH, json=payload(alert())) as response:
        assert response.status == 401
        assert await response.json() == {"error": "missing or wrong credentials", "field": "Authorization"}
    assert kube.remediations() == []


async def test_a_wrong_token_or_scheme_is_401(client: TestClient[Any, Any]) -> None:
    for header in ("Bearer wrong", "Basic czNjcmV0LXRva2Vu", "s3cret-token", "Bearer "):
        status, body = await _post(client, payload(alert()), headers={"Authorization": header})
        assert (status, body["field"]) == (401, "Authorization"), header


async def test_a_body_that_is_not_json_content_is_415(client: TestClient[Any, Any]) -> None:
    status, body = await _post(client, "version=4", headers={"Content-Type": "text/plain"})
    assert status == 415
    assert body["field"] == "Content-Type"


async def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(client: TestClient[Any, Any]) -> None:
    big = json.dumps(payload(alert(note="x" * 70_000)))
    status, body = await _post(client, big)
    assert status == 413
    assert body == {"error": "request body larger than 65536 bytes", "field": None}

    async def chunks() -> Any:  # no Content-Length: aiohttp's own limit has to catch it
        for _ in range(20):
            yield b"x" * 8192

    status, body = await _post(client, chunks())
    assert status == 413
    assert body["field"] is None


async def test_malformed_json_is_400(client: TestClient[Any, Any]) -> None:
    status, body = await _post(client, b'{"version": "4", ')
    assert status == 400
    assert body["field"] == "(body)"
    assert body["error"].startswith("invalid payload")


async def test_an_invalid_field_is_400_naming_it(client: TestClient[Any, Any], kube: ReceiverApi) -> None:
    cases = [
        ({**payload(alert()), "version": "3"}, "version"),
        ({**payload(alert()), "alerts": "none"}, "alerts"),
        (payload(alert(), {**alert(fingerprint="1"), "startsAt": "yesterday"}), "alerts[1].startsAt"),
        (payload({**alert(), "fingerprint": "../../etc"}), "alerts[0].fingerprint"),
        (payload({**alert(), "labels": {"alertname": 5}}), "alerts[0].labels.alertname"),
        (payload({**alert(), "startsAt": "2026-11-29T06:00:00"}), "alerts[0].startsAt"),
        ({k: v for k, v in payload(alert()).items() if k != "receiver"}, "receiver"),
        (payload(alert(alertname="A" * 254)), "alerts[0].labels"),
        (payload({**alert(), "generatorURL": "http://x/" + "y" * 2048}), "alerts[0].generatorURL"),
        (payload({**alert(), "startsAt": "0001-01-01T00:00:00+01:00"}), "alerts[0].startsAt"),
        (payload({**alert(), "endsAt": "9999-12-31T23:59:59-01:00"}), "alerts[0].endsAt"),
    ]
    for body, field in cases:
        status, answer = await _post(client, body)
        assert (status, answer["field"]) == (400, field), answer
    assert kube.remediations() == []


async def test_the_invalid_value_is_not_echoed(client: TestClient[Any, Any]) -> None:
    status, body = await _post(client, payload({**alert(), "labels": {"alertname": ["password=hunter2"]}}))
    assert status == 400
    assert "hunter2" not in json.dumps(body)


async def test_unknown_fields_are_accepted(client: TestClient[Any, Any]) -> None:
    body = {**payload({**alert(), "extra": {"x": 1}}), "notification_reason": "first notification", "routeLabels": {}}
    status, _ = await _post(client, body)
    assert status == 200


async def test_a_wrong_method_is_405_and_an_unknown_path_404(client: TestClient[Any, Any]) -> None:
    async with client.get(WEBHOOK_PATH, headers=AUTH) as response:
        assert response.status == 405
        assert await response.json() == {"error": "method not allowed", "field": None}
        assert "POST" in response.headers["Allow"]
    async with client.post("/webhook/other", json={}, headers=AUTH) as response:
        assert response.status == 404
        assert (await response.json())["field"] is None


async def test_an_unreachable_api_server_is_503_so_alertmanager_retries(
    client: TestClient[Any, Any], kube: ReceiverApi
) -> None:
    kube.unreachable = True
    status, body = await _post(client, payload(alert()))
    assert status == 503
    assert "unreachable" in body["error"]
    kube.unreachable = False
    status, body = await _post(client, payload(alert()))
    assert status == 200
    assert len(body["created"]) == 1


async def test_an_api_server_that_times_out_is_503(client: TestClient[Any, Any], kube: ReceiverApi) -> None:
    kube.slow = 2.0  # longer than the intake's 0.5 s budget
    status, body = await _post(client, payload(alert()))
    assert status == 503
    assert "did not answer" in body["error"]


async def test_health_readiness_and_metrics_are_served(client: TestClient[Any, Any]) -> None:
    async with client.get("/healthz") as response:
        assert response.status == 200
    async with client.get("/readyz") as response:
        assert response.status == 200
    await _post(client, payload(alert()))
    async with client.get("/metrics") as response:
        text = await response.text()
    assert 'suture_alerts_received_total{outcome="created",status="firing"}' in text
    assert "suture_webhook_request_duration_seconds_bucket" in text
    assert 'suture_remediations_created_total{template="restart-pod"}' in text
