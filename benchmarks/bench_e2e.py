"""Alert posted to a real Alertmanager -> first action applied by `suture run` on the local control plane; and
the operator's idle footprint with the example templates loaded.

Run: .venv/bin/python benchmarks/bench_e2e.py --kubeconfig K [--samples 30] [--idle 15] [--json PATH]

Alertmanager (Debian's 0.25) routes every alert to its own group (``group_by:
['...']``, ``group_wait: 0s``) to `suture run`'s webhook. Each sample posts one
alert on a fresh Deployment to Alertmanager's API v2 and times until the
template's first step (an ``annotate``) is visible on that Deployment (polled
every 10 ms). Before the samples, with the examples/templates loaded and
indexed, the operator is left idle for ``--idle`` seconds: its VmRSS and the
CPU it used meanwhile are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.chaos import remove_namespace
from tests.cluster.conftest import install_crds
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import REPO, deployment
from tests.e2e.processes import Alertmanager, rfc3339

from suture.api import API_VERSION
from suture.kube import KubeClient, connect

TEMPLATE = {
    "apiVersion": API_VERSION,
    "kind": "WorkflowTemplate",
    "metadata": {"name": "bench-e2e"},
    "spec": {
        "match": {"alertNames": ["BenchE2E"]},
        "target": {"kind": "Deployment", "name": "${{ alert.labels.deployment }}"},
        "safety": {"cooldown": "0s", "maxRunsPerHour": 0},
        "steps": [
            {
                "name": "mark",
                "action": {
                    "name": "annotate",
                    "params": {
                        "kind": "Deployment",
                        "namespace": "${{ target.metadata.namespace }}",
                        "name": "${{ target.metadata.name }}",
                        "annotations": {"bench.suture.dev/touched": "yes"},
                    },
                },
            }
        ],
    },
}


def proc_figures(pid: int) -> tuple[float, float]:
    """(VmRSS in MB, user+system CPU seconds) of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def _valid(kube: KubeClient, namespace: str, kind: str, name: str) -> bool:
    got = await kube.get(kind, name, namespace, api_version=API_VERSION)
    return any(c["type"] == "Valid" and c["status"] == "True" for c in (got.get("status") or {}).get("conditions", []))


async def _until(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    kube = await connect(args.kubeconfig)
    await install_crds(kube)  # a fresh cluster (the one `make bench` creates) has none
    namespace = f"bench-e2e-{uuid.uuid4().hex[:6]}"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    op = OperatorProcess(args.kubeconfig, workdir, namespace, SUTURE_HOME_NAMESPACE=namespace)
    am: Alertmanager | None = None
    try:
        names = []
        for path in sorted((REPO / "examples" / "templates").glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc.get("kind") == "WorkflowTemplate":
                    doc["metadata"].pop("namespace", None)
                    await kube.create("WorkflowTemplate", doc, namespace, api_version=API_VERSION)
                    names.append(doc["metadata"]["name"])
        await kube.create("WorkflowTemplate", TEMPLATE, namespace, api_version=API_VERSION)
        await op.start()
        assert op.proc is not None

        async def all_valid() -> bool:
            return all([await _valid(kube, namespace, "WorkflowTemplate", n) for n in [*names, "bench-e2e"]])

        await _until(all_valid, 180, f"the templates to be Valid (log {op.log})")
        await asyncio.sleep(2)  # let start-up work settle before measuring idleness
        rss0, cpu0 = proc_figures(op.proc.pid)
        await asyncio.sleep(args.idle)
        rss1, cpu1 = proc_figures(op.proc.pid)

        am = Alertmanager(
            workdir, webhook_url=f"http://127.0.0.1:{op.port}/webhook/alertmanager", token_file=op.token_file
        )
        config = yaml.safe_load(am.config.read_text())
        config["route"]["group_by"] = ["..."]  # every alert its own group: no group_interval between samples
        am.config.write_text(yaml.safe_dump(config))
        await am.start()

        latencies = []
        for i in range(args.samples):
            name = f"e2e-{i}"
            await kube.create("Deployment", deployment(name, 0), namespace)
            alert = {
                "labels": {"alertname": "BenchE2E", "namespace": namespace, "deployment": name},
                "annotations": {"summary": "benchmark"},
                "startsAt": rfc3339(datetime.now(UTC)),
            }
            t0 = time.perf_counter()
            await am.post_alerts([alert])
            while True:
                got = await kube.get("Deployment", name, namespace)
                if (got["metadata"].get("annotations") or {}).get("bench.suture.dev/touched") == "yes":
                    break
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"sample {i}: no action after 120 s (log {op.log})")
                await asyncio.sleep(0.01)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        return {
            "samples": args.samples,
            "e2e_p50_ms": round(statistics.median(latencies), 1),
            "e2e_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
            "e2e_max_ms": round(latencies[-1], 1),
            "idle_rss_mb": round(rss1, 1),
            "idle_rss_mb_at_ready": round(rss0, 1),
            "idle_cpu_percent": round((cpu1 - cpu0) / args.idle * 100, 2),
            "templates_loaded": len(names) + 1,
        }
    finally:
        if am is not None:
            await am.stop()
        if op.proc is not None and op.proc.returncode is None:
            await op.kill()
        await remove_namespace(kube, namespace)
        await kube.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds to watch the idle operator")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suture-bench-e2e-") as tmp:
        figures = asyncio.run(run(args, Path(tmp)))
    for key, value in figures.items():
        print(f"{key:22} {value}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
