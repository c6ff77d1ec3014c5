"""A burst of Alertmanager notifications, and a sender that retries the way Alertmanager does.

Shared by the burst test (a few thousand alerts) and ``benchmarks/bench_burst.py`` (10,000).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from suture.webhook import WEBHOOK_PATH
from tests.unit.webhook.conftest import alert, payload


def burst(total: int, *, seed: int = 0, repeat_share: float = 0.3) -> tuple[list[dict[str, Any]], set[str]]:
    """Payloads of 1 to 50 alerts, ``total`` alerts in all; returns them and the distinct fingerprints.

    About ``repeat_share`` of the alerts repeat a fingerprint already sent
    (Alertmanager's repeat_interval, or the second of an HA pair), within a
    payload or across payloads; the rest are new occurrences.
    """
    rng = random.Random(seed)
    sent: list[str] = []
    payloads = []
    left = total
    while left:
        size = min(left, rng.randint(1, 50))
        alerts = []
        for _ in range(size):
            if sent and rng.random() < repeat_share:
                fingerprint = rng.choice(sent)
            else:
                fingerprint = f"{len(sent):016x}"
                sent.append(fingerprint)
            alerts.append(alert(fingerprint=fingerprint, pod=f"web-{fingerprint}"))
        payloads.append(payload(*alerts))
        left -= size
    return payloads, set(sent)


@dataclass
class Delivery:
    """What the senders saw."""

    answered: int = 0
    busy: int = 0  # 503s with Retry-After
    other_5xx: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    payloads: list[dict[str, Any]],
    *,
    senders: int = 16,
    backoff: float = 0.005,
) -> Delivery:
    """Post every payload with ``senders`` at once, retrying a 5xx after ``backoff`` until answered 2xx.

    A 503 must carry Retry-After; a 4xx fails (Alertmanager would drop it for good).
    The backoff is shorter than Retry-After so the test stays quick; the bound is what is tested.
    """
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    seen = Delivery()
    loop = asyncio.get_running_loop()

    async def sender() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while not queue.empty():
            body = queue.get_nowait()
            started = loop.time()
            while True:
                async with session.post(url + WEBHOOK_PATH, json=body, headers=headers) as response:
                    seen.statuses[response.status] = seen.statuses.get(response.status, 0) + 1
                    await response.read()
                    if 200 <= response.status < 300:
                        seen.answered += 1
                        seen.latencies.append(loop.time() - started)
                        break
                    if response.status == 503 and "Retry-After" in response.headers:
                        seen.busy += 1
                    elif response.status >= 500:
                        seen.other_5xx += 1
                    else:
                        raise AssertionError(f"{response.status}: {await response.text()}")
                await asyncio.sleep(backoff)

    await asyncio.gather(*(sender() for _ in range(senders)))
    return seen
