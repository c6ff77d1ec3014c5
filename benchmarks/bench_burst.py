"""A burst of 10,000 alerts through the webhook: nothing lost, no duplicates, memory bounded, backpressure.

Run: .venv/bin/python benchmarks/bench_burst.py [--alerts 10000] [--senders 32] [--max-in-flight 16] [--json PATH]

The receiver's real aiohttp application and intake over the project's
in-memory API server (tests/fakes) and a SQLite history (what cooldowns and
hourly budgets read, as in the operator), fed by ``--senders`` concurrent senders
that retry a 503 the way Alertmanager does. Payloads of 1 to 50 alerts; about
30 % of the alerts repeat an occurrence already sent. Prints throughput, how
many requests were turned away busy (503 + Retry-After), the peak of requests
in flight (bounded by --max-in-flight), the process's RSS growth, and whether
every occurrence is stored exactly once. Exits 1 when one is lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.unit.webhook.burst import burst, deliver
from tests.unit.webhook.conftest import HOME, TOKEN, template
from tests.unit.webhook.fakes import ReceiverApi

from suture.store import History, open_database
from suture.webhook import Intake, PriorityRanker, StaticCatalog, authenticator_from_files, build_app
from suture.webhook.app import IN_FLIGHT_KEY


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def measure(args: argparse.Namespace, token_file: Path) -> dict[str, Any]:
    async with open_database(location=str(token_file.parent / "history.sqlite")) as database:
        return await _measure(args, token_file, History(database))


async def _measure(args: argparse.Namespace, token_file: Path, history: History) -> dict[str, Any]:
    kube = ReceiverApi()
    intake = Intake(
        kube=kube.client,
        catalog=StaticCatalog([template("restart-pod")]),
        ranker=PriorityRanker(),
        home_namespace=HOME,
        api_timeout=30,
        history=history,  # as in the operator: the cooldown and hourly budget read it at receipt
    )
    authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    app = build_app(intake=intake, authenticator=authenticator, max_in_flight=args.max_in_flight)
    payloads, fingerprints = burst(args.alerts, seed=args.seed)
    gc.collect()
    rss0 = rss_kb()
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        t0, c0 = time.perf_counter(), time.process_time()
        seen = await deliver(
            session, str(server.make_url("")).rstrip("/"), TOKEN, payloads, senders=args.senders, backoff=0.01
        )
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = [r["metadata"]["labels"]["suture.dev/fingerprint"] for r in kube.remediations()]
    lat = sorted(seen.latencies)
    return {
        "alerts": args.alerts,
        "payloads": len(payloads),
        "distinct_occurrences": len(fingerprints),
        "stored": len(stored),
        "lost": len(fingerprints - set(stored)),
        "duplicates": len(stored) - len(set(stored)),
        "alerts_per_s": round(args.alerts / elapsed),
        "alerts_per_cpu_s": round(args.alerts / cpu),  # senders included; steadier than wall time on a busy host
        "busy_503": seen.busy,
        "other_5xx": seen.other_5xx,
        "peak_in_flight": app[IN_FLIGHT_KEY].peak,
        "max_in_flight": args.max_in_flight,
        "payload_p50_ms": round(statistics.median(lat) * 1000, 1),
        "payload_p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 1),
        "rss_growth_mb": round((rss_kb() - rss0) / 1024, 1),
        "rss_per_stored_kb": round((rss_kb() - rss0) / max(1, len(stored)), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--max-in-flight", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp) / "token"
        token_file.write_text(TOKEN)
        figures = asyncio.run(measure(args, token_file))
    for key, value in figures.items():
        print(f"{key:22} {value}")
    print("(the stored Remediations live in the in-memory API server of this process: RSS growth includes them)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["lost"] == 0 and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
