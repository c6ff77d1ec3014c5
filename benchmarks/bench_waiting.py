"""1,000 runs waiting for approval at once in the operator process (`suture run`): its memory and CPU.

Run: .venv/bin/python benchmarks/bench_waiting.py --kubeconfig K [--runs 1000] [--idle 10] [--hold 30] [--json PATH]

`suture run` is started on the local control plane, watching one fresh
namespace that holds the examples/templates and a template whose first step is
an ``approval`` (then one read-only ``get_resource``). Once every template is
Valid the idle operator is watched for ``--idle`` seconds (VmRSS, CPU). Then
one Remediation of that template is created and, once it waits, the rest of
``--runs``; when all of them are WaitingApproval the operator is watched for
``--hold`` seconds more. Printed: VmRSS idle, after the first run (which loads
LangGraph's graph runtime, once: see suture.engine) and with every run
waiting, so KB per waiting run over runs 2..N (and over all N from idle), CPU
seconds per second while they wait, and how long creating them and reaching
WaitingApproval took (wall-clock: depends on the machine's load, printed with
it). Every run is then approved, each must end Succeeded, and the
Remediations are deleted while the operator still runs (their kopf finalizer
is lifted by it) before the namespace goes. ``--runs 0`` measures idleness only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.chaos import remove_namespace
from tests.cluster.conftest import install_crds
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import REPO

from suture.api import API_VERSION
from suture.errors import SutureError
from suture.kube import KubeClient, connect

TEMPLATE = "bench-waiting"
OUT = Path(__file__).resolve().parent / "out"
CONCURRENCY = 16  # requests in flight while creating, answering and deleting


def template(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": TEMPLATE},
        "spec": {
            "safety": {"cooldown": "0s", "maxRunsPerHour": 0},
            "steps": [
                {"name": "ask", "approval": {"message": "go ahead?", "timeout": "50m"}},
                {
                    "name": "read",
                    "action": {
                        "name": "get_resource",
                        "params": {"kind": "ConfigMap", "namespace": namespace, "name": "kube-root-ca.crt"},
                    },
                },
            ],
        },
    }


def remediation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": name},
        "spec": {"templateRef": {"name": TEMPLATE}, "alert": {"name": "BenchWaiting"}},
    }


def proc_figures(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM in KB, user+system CPU seconds, of a process."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


async def until(probe: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def bounded(items: list[str], work: Callable[[str], Awaitable[Any]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: str) -> None:
        async with gate:
            await work(item)

    await asyncio.gather(*(one(i) for i in items))


async def phases(kube: KubeClient, namespace: str) -> Counter[str]:
    """Remediations per phase; empty when the API server did not answer (a loaded one times out lists)."""
    try:
        found = await kube.list("Remediation", namespace, api_version=API_VERSION)
    except SutureError as exc:
        print(f"listing the Remediations failed, asking again: {exc}", file=sys.stderr)
        return Counter()
    return Counter((r.get("status") or {}).get("phase", "-") for r in found)


async def load_templates(kube: KubeClient, namespace: str) -> list[str]:
    names = []
    for path in sorted((REPO / "examples" / "templates").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "WorkflowTemplate":
                doc["metadata"].pop("namespace", None)
                await kube.create("WorkflowTemplate", doc, namespace, api_version=API_VERSION)
                names.append(doc["metadata"]["name"])
    await kube.create("WorkflowTemplate", template(namespace), namespace, api_version=API_VERSION)
    return [*names, TEMPLATE]


async def all_valid(kube: KubeClient, namespace: str, names: list[str]) -> bool:
    for name in names:
        got = await kube.get("WorkflowTemplate", name, namespace, api_version=API_VERSION)
        conditions = (got.get("status") or {}).get("conditions", [])
        if not any(c["type"] == "Valid" and c["status"] == "True" for c in conditions):
            print(f"not Valid yet: {name} {conditions}", file=sys.stderr)
            return False
    return True


async def measure(
    args: argparse.Namespace, kube: KubeClient, op: OperatorProcess, namespace: str, figures: dict[str, Any]
) -> None:
    """Fill ``figures`` as they are measured, so a later failure keeps the earlier ones."""
    names = await load_templates(kube, namespace)
    await op.start()
    assert op.proc is not None
    pid = op.proc.pid
    await until(lambda: all_valid(kube, namespace, names), 180, f"the templates to be Valid (log {op.log})")
    await asyncio.sleep(2)  # let start-up work settle before measuring idleness
    idle0 = proc_figures(pid)
    await asyncio.sleep(args.idle)
    idle1 = proc_figures(pid)
    figures.update(
        {
            "templates_loaded": len(names),
            "idle_rss_mb": round(idle1["VmRSS"] / 1024, 1),
            "idle_cpu_percent": round((idle1["cpu"] - idle0["cpu"]) / args.idle * 100, 2),
        }
    )
    if args.runs == 0:
        return

    runs = [f"w-{i:05d}" for i in range(args.runs)]
    seen: Counter[str] = Counter()

    def waiting(count: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            nonlocal seen
            seen = await phases(kube, namespace)
            if op.proc is not None and op.proc.returncode is not None:
                raise RuntimeError(f"the operator exited (log {op.log})")
            return seen["WaitingApproval"] == count

        return probe

    # The first run loads the graph runtime once (suture.engine); measured apart from the per-run cost.
    await kube.create("Remediation", remediation(runs[0]), namespace, api_version=API_VERSION)
    await until(waiting(1), 300, "the first run to wait for approval")
    await asyncio.sleep(2)
    first = proc_figures(pid)
    t0 = time.monotonic()
    await bounded(runs[1:], lambda n: kube.create("Remediation", remediation(n), namespace, api_version=API_VERSION))
    created_s = time.monotonic() - t0
    try:
        await until(waiting(args.runs), args.timeout, f"{args.runs} runs to wait for approval", every=2.0)
    finally:
        print(f"phases: {dict(seen)}", file=sys.stderr)
    waiting_s = time.monotonic() - t0
    await asyncio.sleep(2)
    hold0 = proc_figures(pid)
    await asyncio.sleep(args.hold)
    hold1 = proc_figures(pid)
    cpu_per_s = (hold1["cpu"] - hold0["cpu"]) / args.hold
    figures.update(
        {
            "runs": args.runs,
            "create_s": round(created_s, 1),  # runs 2..N
            "all_waiting_s": round(waiting_s, 1),
            "waiting_rss_mb": round(hold1["VmRSS"] / 1024, 1),
            "waiting_hwm_mb": round(hold1["VmHWM"] / 1024, 1),
            "first_run_rss_mb": round(first["VmRSS"] / 1024, 1),
            "waiting_runs_rss_kb_per_run": round((hold1["VmRSS"] - first["VmRSS"]) / max(args.runs - 1, 1), 1),
            "waiting_rss_kb_per_run_with_first": round((hold1["VmRSS"] - idle1["VmRSS"]) / args.runs, 1),
            "waiting_cpu_s_per_s": round(cpu_per_s, 4),
            "waiting_cpu_ms_per_s_per_1000_runs": round(cpu_per_s * 1000 * 1000 / args.runs, 1),
        }
    )

    t1 = time.monotonic()
    await bounded(runs, lambda n: answer(kube, namespace, n))

    async def all_succeeded() -> bool:
        nonlocal seen
        seen = await phases(kube, namespace)
        return seen["Succeeded"] == args.runs or sum(seen[p] for p in ("Failed", "Cancelled", "RolledBack")) > 0

    try:
        await until(all_succeeded, args.finish_timeout, f"{args.runs} approved runs to finish", every=2.0)
    finally:
        print(f"phases: {dict(seen)}", file=sys.stderr)
    figures["approved_to_all_done_s"] = round(time.monotonic() - t1, 1)
    figures["succeeded"] = seen["Succeeded"]


async def answer(kube: KubeClient, namespace: str, name: str) -> None:
    body = {"spec": {"approval": {"decision": "Approved", "reason": "benchmark", "step": "ask"}}}
    await kube.patch("Remediation", name, body, namespace, api_version=API_VERSION)


async def clean_up(kube: KubeClient, op: OperatorProcess, namespace: str) -> None:
    """Delete the Remediations while the operator runs (it lifts their finalizer), then the namespace."""
    if op.proc is not None and op.proc.returncode is None:
        left = [r["metadata"]["name"] for r in await kube.list("Remediation", namespace, api_version=API_VERSION)]
        await bounded(left, lambda n: kube.delete("Remediation", n, namespace, api_version=API_VERSION))

        async def gone() -> bool:
            return not await kube.list("Remediation", namespace, api_version=API_VERSION)

        try:
            await until(gone, 120, "the Remediations to be deleted", every=2.0)
        except RuntimeError as exc:
            print(f"{exc}; lifting the finalizers instead", file=sys.stderr)
        op.proc.terminate()
        await op.proc.wait()
    await remove_namespace(kube, namespace)  # lifts any finalizer left


async def run(args: argparse.Namespace, workdir: Path, figures: dict[str, Any]) -> None:
    kube = await connect(args.kubeconfig)
    await install_crds(kube)
    namespace = f"bench-waiting-{uuid.uuid4().hex[:6]}"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    op = OperatorProcess(
        args.kubeconfig, workdir, namespace, SUTURE_HOME_NAMESPACE=namespace, SUTURE_MAX_RUNS=str(args.max_runs)
    )
    try:
        await measure(args, kube, op, namespace, figures)
    finally:
        await clean_up(kube, op, namespace)
        await kube.close()
        if op.log.exists():  # kept: the temporary directory goes
            OUT.mkdir(parents=True, exist_ok=True)
            (OUT / "bench_waiting_operator.log").write_bytes(op.log.read_bytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--runs", type=int, default=1000, help="Remediations waiting for approval at once")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds to watch the idle operator")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to watch it with every run waiting")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to reach each state")
    parser.add_argument("--finish-timeout", type=float, default=1800.0, help="seconds allowed the approved runs")
    parser.add_argument("--max-runs", type=int, default=10, help="SUTURE_MAX_RUNS of the operator (its default)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    load = os.getloadavg()
    figures: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="suture-bench-waiting-") as tmp:
            asyncio.run(run(args, Path(tmp), figures))
    finally:  # what was measured before a failure is still printed
        figures["load_before"] = [round(x, 2) for x in load]
        figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
        for key, value in figures.items():
            print(f"{key:36} {value}")
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if args.runs == 0 or figures.get("succeeded") == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
