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

The operator runs with ``SUTURE_TRACE_STAGES=1``: its log then marks each
alert's way (received, stored, run start, acceptance, engine, action called
and applied), and the benchmark prints p50/p99 of every stage between
posting and seeing the write, plus the load average, since on a shared
machine every stage is slowed by whatever else runs. ``--keep-log PATH``
keeps the operator's log.
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
    op = OperatorProcess(args.kubeconfig, workdir, namespace, SUTURE_HOME_NAMESPACE=namespace, SUTURE_TRACE_STAGES="1")
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

        load_before = os.getloadavg()[0]
        latencies = []
        timelines: list[dict[str, float]] = []
        for i in range(args.samples):
            name = f"e2e-{i}"
            await kube.create("Deployment", deployment(name, 0), namespace)
            alert = {
                "labels": {"alertname": "BenchE2E", "namespace": namespace, "deployment": name},
                "annotations": {"summary": "benchmark"},
                "startsAt": rfc3339(datetime.now(UTC)),
            }
            t0 = time.perf_counter()
            posted = time.time()
            await am.post_alerts([alert])
            while True:
                got = await kube.get("Deployment", name, namespace)
                if (got["metadata"].get("annotations") or {}).get("bench.suture.dev/touched") == "yes":
                    break
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"sample {i}: no action after 120 s (log {op.log})")
                await asyncio.sleep(0.01)
            latencies.append((time.perf_counter() - t0) * 1000)
            seen = posted + latencies[-1] / 1000
            timelines.append({"posted": posted, "seen": seen, **await _marks(kube, namespace, name, op.log)})
        stages = stage_figures(timelines)
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
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "stages": stages,
        }
    finally:
        if am is not None:
            await am.stop()
        if op.proc is not None and op.proc.returncode is None:
            await op.kill()
        await remove_namespace(kube, namespace)
        await kube.close()


# The way of one alert, mark by mark: "posted" and "seen" are the benchmark's own clock, the rest the operator's
# stage marks (suture.logs.mark_stage, on with SUTURE_TRACE_STAGES). "event" (kopf's watch event for the new
# Remediation) is off the path when the receiver hands the run over itself, so it is timed from "stored" apart.
PATH_STAGES = (
    ("posted", "received", "Alertmanager: dispatch to the webhook"),
    ("received", "stored", "receiver: notification in, Remediation created"),
    ("stored", "start", "hand-off (or kopf's event) to the run's start"),
    ("start", "request_built", "run start: template, target, GitOps and rate reads"),
    ("request_built", "accepted", "run start: acceptance written"),
    ("accepted", "invoked", "engine: checkpoint, slot, graph"),
    ("invoked", "action_called", "engine: first step to its action"),
    ("action_called", "action_applied", "action: journal and its write"),
    ("action_applied", "seen", "benchmark: the write seen (10 ms polls)"),
)
ASIDE_STAGES = (("stored", "event", "kopf's watch event after the create (the safety net)"),)


def _parse_marks(text: str) -> dict[str, dict[str, float]]:
    """{Remediation name or run id: {stage: first time}} from the operator's log."""
    marks: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        parts = line.split()
        if "stage" not in parts:
            continue
        at = parts.index("stage")
        if len(parts) < at + 4:
            continue
        stage, key = parts[at + 1], parts[at + 2].rsplit("/", 1)[-1]  # namespace/name -> name
        try:
            when = float(parts[at + 3])
        except ValueError:
            continue
        marks.setdefault(key, {}).setdefault(stage, when)
    return marks


async def _marks(kube: KubeClient, namespace: str, deployment_name: str, log: Path) -> dict[str, float]:
    """The operator's marks for the Remediation of the alert on ``deployment_name`` (by name and run id)."""
    items = await kube.list("Remediation", namespace, api_version=API_VERSION)
    mine = [i for i in items if i["spec"]["alert"]["labels"].get("deployment") == deployment_name]
    if not mine:
        return {}
    meta = mine[0]["metadata"]
    marks = _log_marks(log)
    return {**marks.get(meta["name"], {}), **marks.get(meta["uid"], {})}


def _log_marks(log: Path) -> dict[str, dict[str, float]]:
    return _parse_marks(log.read_text(errors="replace"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)] if q < 1 else ordered[-1]


def stage_figures(timelines: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """p50/p99 in ms of each stage over the samples that have both of its marks."""
    out: dict[str, dict[str, Any]] = {}
    for before, after, what in (*PATH_STAGES, *ASIDE_STAGES):
        spans = [(t[after] - t[before]) * 1000 for t in timelines if before in t and after in t]
        if spans:
            out[f"{before}->{after}"] = {
                "what": what,
                "p50_ms": round(statistics.median(spans), 1),
                "p99_ms": round(_percentile(spans, 0.99), 1),
                "samples": len(spans),
            }
    return out


def print_stages(stages: dict[str, dict[str, Any]]) -> None:
    """The stage table, for the README's explanation of the end-to-end figure."""
    print(f"{'STAGE':34} {'P50 MS':>8} {'P99 MS':>8}  WHAT")
    for name, row in stages.items():
        print(f"{name:34} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f}  {row['what']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds to watch the idle operator")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--keep-log", help="copy the operator's log here (its stage marks included)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suture-bench-e2e-") as tmp:
        try:
            figures = asyncio.run(run(args, Path(tmp)))
        finally:
            log = Path(tmp) / "operator.log"
            if args.keep_log and log.exists():
                Path(args.keep_log).write_bytes(log.read_bytes())
    for key, value in figures.items():
        if key != "stages":
            print(f"{key:22} {value}")
    print_stages(figures["stages"])
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
