"""A burst of notifications: nothing lost, nothing stored twice, and the excess refused with 503 + Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from suture.webhook import Intake, authenticator_from_files, build_app
from suture.webhook.app import IN_FLIGHT_KEY
from tests.unit.webhook.burst import burst, deliver
from tests.unit.webhook.conftest import TOKEN, alert
from tests.unit.webhook.fakes import ReceiverApi

LIMIT = 4


async def test_a_burst_of_alerts_is_stored_once_each_and_the_excess_waits_its_turn(
    intake: Intake, kube: ReceiverApi, token_file: Path
) -> None:
    authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    app = build_app(intake=intake, authenticator=authenticator, max_in_flight=LIMIT)
    payloads, fingerprints = burst(600, seed=17)  # 10,000 in benchmarks/bench_burst.py
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        seen = await deliver(session, str(server.make_url("")).rstrip("/"), TOKEN, payloads, senders=16)

    assert seen.answered == len(payloads)
    assert seen.other_5xx == 0
    assert seen.busy > 0, "16 senders against 4 slots must meet the bound"
    stored = [r["metadata"]["labels"]["suture.dev/fingerprint"] for r in kube.remediations()]
    assert sorted(stored) == sorted(fingerprints), "each occurrence exactly once"
    assert kube.creates == len(fingerprints)
    in_flight = app[IN_FLIGHT_KEY]
    assert (in_flight.peak, in_flight.current) == (LIMIT, 0)


async def test_a_busy_answer_is_503_with_retry_after_and_a_json_error(
    intake: Intake, kube: ReceiverApi, token_file: Path
) -> None:
    authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    app = build_app(intake=intake, authenticator=authenticator, max_in_flight=1)
    app[IN_FLIGHT_KEY].current = 1  # one request is being worked on
    body: dict[str, Any] = {"version": "4", "status": "firing", "receiver": "suture", "alerts": [alert()]}
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with session.post(server.make_url("/webhook/alertmanager"), json=body, headers=headers) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            assert (await response.json())["error"].startswith("busy")
        async with session.post(server.make_url("/webhook/alertmanager"), json=body) as response:
            assert response.status == 401, "credentials are checked before the bound: strangers learn nothing"
    assert kube.remediations() == []
