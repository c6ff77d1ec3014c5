"""Receiver throughput and latency: HTTP request in, Remediations stored, reply out.

Run:
  .venv/bin/python benchmarks/bench_webhook.py                 # the receiver alone, API server faked in memory
  .venv/bin/python benchmarks/bench_webhook.py --kubeconfig K  # up to the stored Remediation on a real cluster
                                                               # (Suture's CRDs installed: kubectl apply -f crds/)
  .venv/bin/python benchmarks/bench_webhook.py --live-context   # faked, plus reading each alert's pod, ReplicaSet
                                                               # and node at receipt (three GETs per alert)
  .venv/bin/python benchmarks/bench_webhook.py --kubeconfig K --alertmanager
                                                               # plus: a real Alertmanager (0.34 from `make tools`,
                                                               # group_wait 0s) to the created Remediation

Prints alerts per second and per-request p50/p99 for 1-alert and 50-alert
payloads, sequential (latency) and with 8 senders at once (throughput). Every
alert is a new occurrence, so every one is a created Remediation. In cluster
mode the Remediations go to a throwaway namespace, deleted at the end; no
operator runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from suture.kube import ApiError, KubeClient, connect
from suture.webhook import (
    WEBHOOK_PATH,
    Authenticator,
    ContextReader,
    Intake,
    PriorityRanker,
    StaticCatalog,
    authenticator_from_files,
    build_app,
    index_entry,
)

TOKEN = "bench-token"


class MemoryApi:
    """The calls the receiver makes on its hot path, answered from a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    async def get_or_none(self, kind: str, name: str, namespace: str | None = None, **_: Any) -> Any:
        return copy.deepcopy(self.objects.get((kind, namespace, name)))

    async def create(self, kind: str, body: Mapping[str, Any], namespace: str | None = None, **_: Any) -> Any:
        key = (kind, namespace, body["metadata"]["name"])
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", "exists")
        self.objects[key] = copy.deepcopy(dict(body))
        return body

    async def list(self, kind: str, namespace: str | None = None, **_: Any) -> Any:
        # The safety rules' rate check at receipt lists the template's Remediations (an O(n) read per alert).
        return [o for (k, ns, _n), o in self.objects.items() if k == kind and namespace in (None, ns)]  # read only

    async def patch(self, kind: str, name: str, body: Any, namespace: str | None = None, **_: Any) -> Any:
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", "missing")
        found.setdefault("status", {}).update(body.get("status") or {})
        return found


def _template(namespace: str) -> Any:
    return index_entry(
        {
            "kind": "WorkflowTemplate",
            "metadata": {"name": "bench", "namespace": namespace, "uid": "u", "generation": 1},
            "spec": {
                "match": {"alertNames": ["BenchAlert"]},
                "steps": [{"name": "wait", "wait": {"duration": "1s"}}],
            },
            "status": {"conditions": [{"type": "Valid", "status": "True", "observedGeneration": 1}]},
        }
    )


def _payload(namespace: str, size: int) -> dict[str, Any]:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "BenchAlert", "namespace": namespace, "pod": f"pod-{i}"},
            "annotations": {"summary": "benchmark"},
            "startsAt": "2026-11-29T06:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": uuid.uuid4().hex[:16],
        }
        for i in range(size)
    ]
    return {"version": "4", "status": "firing", "receiver": "suture", "groupKey": "{}", "alerts": alerts}


async def _measure(url: str, namespace: str, *, size: int, requests: int, senders: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(_payload(namespace, size))

    async def sender(session: ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                answer = await response.json()
                assert response.status == 200, answer
                assert len(answer["created"]) == size, answer
            latencies.append(time.perf_counter() - t0)

    async with ClientSession() as session:
        start = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(senders)))
        elapsed = time.perf_counter() - start
    return requests * size / elapsed, sorted(latencies)


REPO = Path(__file__).resolve().parent.parent


def _live_objects(namespace: str, pods: int) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """The payloads' pods (OOM-killed, owned by one ReplicaSet, on one node), for --live-context."""
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-29T05:59:00Z"}}
    owner = [{"kind": "ReplicaSet", "name": "web-5d8f7c9b4", "controller": True}]
    objects: dict[tuple[str, str | None, str], dict[str, Any]] = {
        ("ReplicaSet", namespace, "web-5d8f7c9b4"): {"metadata": {"creationTimestamp": "2026-11-29T05:00:00Z"}},
        ("Node", None, "node-1"): {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    }
    for i in range(pods):
        objects[("Pod", namespace, f"pod-{i}")] = {
            "metadata": {"name": f"pod-{i}", "ownerReferences": owner},
            "spec": {"nodeName": "node-1"},
            "status": {"containerStatuses": [{"name": "main", "restartCount": 4, "lastState": killed}]},
        }
    return objects


class CreationClock:
    """The receiver's API client, noting when each Remediation's create returned (it is stored then)."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self.created: dict[str, float] = {}  # the alert's bench_id label -> perf_counter at the 201
        self.event = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kube, name)

    async def create(self, kind: str, body: Mapping[str, Any], namespace: str | None = None, **kw: Any) -> Any:
        answer = await self._kube.create(kind, body, namespace, **kw)
        bench_id = body["spec"]["alert"]["labels"].get("bench_id") if kind == "Remediation" else None
        if bench_id is not None:
            self.created[bench_id] = time.perf_counter()
            self.event.set()
        return answer


def _alertmanager_binary() -> str:
    out = subprocess.run(
        [
            "bash",
            "-c",
            f". {REPO}/hack/versions.sh && echo $SUTURE_BIN/alertmanager-$ALERTMANAGER_VERSION/alertmanager",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


async def _through_alertmanager(
    binary: str, workdir: Path, *, webhook: str, token_file: Path, clock: CreationClock, namespace: str, count: int
) -> list[float]:
    """Post ``count`` alerts to a real Alertmanager one at a time; seconds from each POST to its stored Remediation."""
    port = 19093 + os.getpid() % 1000
    config = {
        # Every alert its own group ('...'), sent at once (group_wait 0s): the latency is Alertmanager's and Suture's.
        "route": {"receiver": "suture", "group_by": ["..."], "group_wait": "0s", "group_interval": "1s"},
        "receivers": [
            {
                "name": "suture",
                "webhook_configs": [
                    {"url": webhook, "http_config": {"authorization": {"credentials_file": str(token_file)}}}
                ],
            }
        ],
    }
    (workdir / "am.yml").write_text(yaml.safe_dump(config))
    log = (workdir / "am.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={workdir / 'am.yml'}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    try:
        async with ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{base}/-/ready") as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                await asyncio.sleep(0.1)
            for i in range(count):
                bench_id = f"a{i}-{uuid.uuid4().hex[:6]}"
                alert = {
                    "labels": {"alertname": "BenchAlert", "namespace": namespace, "bench_id": bench_id},
                    "startsAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                }
                t0 = time.perf_counter()
                async with session.post(f"{base}/api/v2/alerts", json=[alert]) as r:
                    assert r.status == 200, await r.text()
                while bench_id not in clock.created:
                    clock.event.clear()
                    await asyncio.wait_for(clock.event.wait(), 30)
                latencies.append(clock.created[bench_id] - t0)
    finally:
        proc.terminate()
        await proc.wait()
        log.close()
    return sorted(latencies)


def _p(samples: list[float], q: float) -> float:
    return samples[max(0, int(len(samples) * q) - 1)] * 1000


async def run(token_file: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="measure against this cluster (default: API server faked)")
    parser.add_argument("--requests", type=int, default=0, help="requests per case (default 400 faked, 100 real)")
    parser.add_argument(
        "--alertmanager", action="store_true", help="also Alertmanager to created Remediation (needs --kubeconfig)"
    )
    parser.add_argument("--live-context", action="store_true", help="read each alert's live context at receipt")
    parser.add_argument("--alertmanager-binary", default="", help="default: the 0.34 that `make tools` builds")
    args = parser.parse_args()
    if args.alertmanager and not args.kubeconfig:
        parser.error("--alertmanager needs --kubeconfig")
    requests = args.requests or (100 if args.kubeconfig else 400)

    kube: Any
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    real: KubeClient | None = None
    clock: CreationClock | None = None
    if args.kubeconfig:
        real = await connect(args.kubeconfig)
        await real.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        kube = clock = CreationClock(real)
    else:
        kube = MemoryApi()
        if args.live_context:
            kube.objects.update(_live_objects(namespace, 50))
    authenticator: Authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    intake = Intake(
        kube=kube,
        catalog=StaticCatalog([_template(namespace)]),
        ranker=PriorityRanker(),
        home_namespace=namespace,
        watched_namespaces=(namespace,),
        live_context=ContextReader(kube) if args.live_context else None,
    )
    server = TestServer(build_app(intake=intake, authenticator=authenticator), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url(WEBHOOK_PATH))
    mode = ("real API server" if real else "API server faked in memory") + (
        ", live context read per alert" if args.live_context else ""
    )
    print(f"receiver benchmark ({mode}); each alert is a new occurrence, stored as a Remediation")
    try:
        await _measure(url, namespace, size=1, requests=20, senders=1)  # warm-up: connections, caches
        for size in (1, 50):
            for senders in (1, 8):
                n = max(requests // (size // 10 + 1), 10)
                cpu = time.process_time()
                rate, lat = await _measure(url, namespace, size=size, requests=n, senders=senders)
                cpu_per_alert = (time.process_time() - cpu) / (n * size) * 1000  # sender and receiver: one process
                print(
                    f"  {size:>2}-alert payloads, {senders} sender(s), {n} requests: {rate:8.0f} alerts/s  "
                    f"p50 {statistics.median(lat) * 1000:7.1f} ms  p99 {_p(lat, 0.99):7.1f} ms  "
                    f"CPU {cpu_per_alert:.2f} ms/alert"
                )
        if args.alertmanager:
            assert clock is not None
            binary = args.alertmanager_binary or _alertmanager_binary()
            count = max(requests, 20)
            with tempfile.TemporaryDirectory() as workdir:
                lat = await _through_alertmanager(
                    binary,
                    Path(workdir),
                    webhook=url,
                    token_file=token_file,
                    clock=clock,
                    namespace=namespace,
                    count=count,
                )
            shown = await asyncio.to_thread(subprocess.run, [binary, "--version"], capture_output=True, text=True)
            version = shown.stdout.split("\n")[0]
            print(
                f"  Alertmanager ({version}) POST /api/v2/alerts to Remediation created, {count} alerts one by one: "
                f"p50 {statistics.median(lat) * 1000:7.1f} ms  p99 {_p(lat, 0.99):7.1f} ms"
            )
    finally:
        await server.close()
        if real is not None:
            await real.delete("Namespace", namespace)
            await real.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        token_file = Path(workdir) / "token"
        token_file.write_text(TOKEN)
        asyncio.run(run(token_file))


if __name__ == "__main__":
    main()
