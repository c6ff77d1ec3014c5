"""Whatever is posted, the answer is a 2xx, or a 4xx with a JSON error, never a 5xx; bad input creates nothing."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from suture.webhook import WEBHOOK_PATH
from tests.unit.webhook.conftest import AUTH, alert, payload
from tests.unit.webhook.fakes import ReceiverApi

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A valid notification with one place replaced by arbitrary JSON, or deleted."""
    base = payload(alert(), alert(fingerprint="fedcba9876543210", status="resolved", ends_at="2026-11-29T07:00:00Z"))
    path = draw(st.sampled_from(_paths(base)))
    if not path:
        return draw(JSON)
    parent: Any = base
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return base


OFFSETS = st.integers(-1439, 1439).map(lambda minutes: timezone(timedelta(minutes=minutes)))
TIMES = st.datetimes(timezones=OFFSETS).map(lambda t: t.isoformat())
TEXT = st.text(max_size=300)


@st.composite
def well_formed_payloads(draw: st.DrawFn) -> Any:
    """The right shape, with arbitrary label text, times at the calendar's edges and odd fingerprints."""
    alerts = []
    for _ in range(draw(st.integers(0, 4))):
        alerts.append(
            {
                **alert(),
                "status": draw(st.sampled_from(["firing", "resolved"])),
                # Half keep a matching alertname and namespace, so the intake gets past "unmatched".
                "labels": {
                    **(alert()["labels"] if draw(st.booleans()) else {}),
                    **draw(st.dictionaries(TEXT, TEXT, max_size=6)),
                },
                "annotations": draw(st.dictionaries(TEXT, TEXT, max_size=3)),
                "startsAt": draw(TIMES),
                "endsAt": draw(TIMES),
                "fingerprint": draw(st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True)),
                "generatorURL": draw(TEXT),
            }
        )
        if draw(st.integers(0, 3)) == 0:  # one alert in four has one field of arbitrary text
            alerts[-1][draw(st.sampled_from(["startsAt", "endsAt", "fingerprint", "status"]))] = draw(TEXT)
    return payload(*alerts)


BODIES = (
    well_formed_payloads().map(lambda b: json.dumps(b).encode())
    | mutated_payloads().map(lambda b: json.dumps(b).encode())
    | JSON.map(lambda b: json.dumps(b).encode())
    | st.binary(max_size=200)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
async def test_any_body_gets_2xx_or_a_json_4xx_and_bad_ones_change_nothing(
    client: TestClient[Any, Any], kube: ReceiverApi, body: bytes
) -> None:
    before = kube.persisted_writes()
    headers = {**AUTH, "Content-Type": "application/json"}
    async with client.post(WEBHOOK_PATH, data=body, headers=headers) as response:
        status = response.status
        answer = await response.json()
    event(f"HTTP {status}" + (f", created {len(answer['created'])}" if status == 200 else ""))
    assert 200 <= status < 300 or 400 <= status < 500, (status, answer)
    if status >= 400:
        assert set(answer) == {"error", "field"}
        assert isinstance(answer["error"], str)
        assert answer["error"]
        assert kube.persisted_writes() == before, "an invalid payload changed the cluster"
