"""The workflow engine's own cost: overhead per step, and memory of many runs waiting for approval.

Run: .venv/bin/python benchmarks/bench_engine.py [--runs 50] [--steps 20] [--waiting 1000]

No cluster is used: the actions are a registered no-op (``kube=None``; only
action, condition and rollout steps would touch the KubeClient, and the no-op
ignores it) and progress goes to a NullSink.

1. Overhead per step: ``--runs`` sequential runs of a template of ``--steps``
   no-op action steps, (a) on LangGraph's InMemorySaver (no durable
   checkpointer) and (b) on the SQLite checkpointer of ``open_checkpointer``
   (the default durable one; a checkpoint is written synchronously after every
   step). Prints p50/p99 of run time divided by steps, and (b) minus (a).
2. Runs waiting for approval: ``--waiting`` runs of a template whose first step
   is an ``approval`` are started concurrently on the SQLite checkpointer, so
   each pauses in WaitingApproval holding no slot. Prints the process's RSS
   (VmRSS, and the peak VmHWM) before and after, per run, the time to start
   them all and the SQLite file size; then approves them all and prints the time
   to finish and how many Succeeded. Exits 1 unless all of them (and every run
   of part 1) Succeeded; timings are only printed, never checked.

Each part runs in a fresh child process (``--part`` picks one), so part 1's
in-memory checkpoints neither inflate part 2's RSS baseline nor hide its
growth, and part 2's heap does not slow part 1's garbage collection.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from suture.actions import ActionContext, ActionResult, RbacRule, Registry, Risk, action
from suture.api import WorkflowTemplateSpec
from suture.engine import Engine, NullSink, RunRequest, open_checkpointer

NO_RBAC: tuple[RbacRule, ...] = ()


class NoParams(BaseModel):
    """The no-op takes no parameters."""


@action(name="noop", family="bench", params=NoParams, risk=Risk.READ_ONLY, rbac=NO_RBAC)
async def noop(ctx: ActionContext, params: NoParams) -> ActionResult:
    """Return at once without touching anything."""
    return ActionResult(changed=False, message="nothing done")


def make_registry() -> Registry:
    registry = Registry()
    registry.add(noop)
    return registry


def make_engine(checkpointer: BaseCheckpointSaver[Any]) -> Engine:
    # The engine hands kube only to actions and to resource checks; the no-op uses neither.
    return Engine(registry=make_registry(), kube=None, checkpointer=checkpointer, sink=NullSink())  # type: ignore[arg-type]


def noop_steps(count: int, prefix: str = "s") -> list[dict[str, Any]]:
    return [{"name": f"{prefix}{i}", "action": {"name": "noop"}} for i in range(count)]


def action_template(steps: int) -> WorkflowTemplateSpec:
    return WorkflowTemplateSpec.model_validate({"steps": noop_steps(steps)})


def approval_template() -> WorkflowTemplateSpec:
    steps = [{"name": "ask", "approval": {"message": "go ahead?", "timeout": "1h"}}, *noop_steps(2, "after")]
    return WorkflowTemplateSpec.model_validate({"steps": steps})


def proc_status_kb(key: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Figures:
    """What a part measured, and whether its runs ended as expected."""

    lines: list[str] = field(default_factory=list)
    failures: int = 0


async def per_step_ms(engine: Engine, spec: WorkflowTemplateSpec, *, runs: int, steps: int, label: str) -> list[float]:
    """Run ``runs`` runs one after another (after one warm-up run); each run's time per step in ms."""
    warm = await engine.start(request=RunRequest(run_id=f"{label}-warmup", template=spec))
    if warm.phase != "Succeeded":
        raise RuntimeError(f"warm-up run ended {warm.phase}: {warm.message}")
    samples: list[float] = []
    bad = 0
    for i in range(runs):
        t0 = time.perf_counter()
        out = await engine.start(request=RunRequest(run_id=f"{label}-{i}", template=spec))
        samples.append((time.perf_counter() - t0) * 1000 / steps)
        bad += out.phase != "Succeeded"
    if bad:
        raise RuntimeError(f"{bad} of {runs} {label} runs did not succeed")
    return sorted(samples)


async def overhead(runs: int, steps: int, workdir: Path) -> Figures:
    spec = action_template(steps)
    figures = Figures()
    memory_engine = make_engine(InMemorySaver())
    try:
        mem = await per_step_ms(memory_engine, spec, runs=runs, steps=steps, label="memory")
    finally:
        await memory_engine.aclose()
    async with open_checkpointer(location=str(workdir / "overhead.sqlite")) as saver:
        sqlite_engine = make_engine(saver)
        try:
            disk = await per_step_ms(sqlite_engine, spec, runs=runs, steps=steps, label="sqlite")
        finally:
            await sqlite_engine.aclose()
    figures.lines.append(f"1. Overhead per step: {runs} sequential runs x {steps} no-op action steps (+1 warm-up run)")
    if runs < 100:
        note = "is about the slowest one: noisy, GC and other load show there"
        figures.lines.append(f"   (p99 of only {runs} runs {note})")
    for name, samples in (("(a) InMemorySaver", mem), ("(b) SQLite (default)", disk)):
        figures.lines.append(
            f"   {name:<21} p50 {statistics.median(samples):7.3f} ms  p99 {percentile(samples, 0.99):7.3f} ms"
            f"  per step  (run p50 {statistics.median(samples) * steps:.1f} ms)"
        )
    figures.lines.append(
        f"   (b) - (a)             p50 {statistics.median(disk) - statistics.median(mem):+7.3f} ms"
        f"  p99 {percentile(disk, 0.99) - percentile(mem, 0.99):+7.3f} ms  per step: the durable checkpoint's cost"
    )
    return figures


def sqlite_size(path: Path) -> tuple[int, int]:
    """Bytes of the SQLite file and of its write-ahead log."""
    wal = Path(str(path) + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


async def waiting(count: int, workdir: Path) -> Figures:
    spec = approval_template()
    path = workdir / "waiting.sqlite"
    figures = Figures()
    async with open_checkpointer(location=str(path)) as saver:
        engine = make_engine(saver)
        try:
            # One run through to the end first, so imports, the compiled graph and caches are in the baseline.
            await engine.start(request=RunRequest(run_id="warmup", template=spec))
            warm = await engine.approve(run_id="warmup", decision="Approved", by="bench")
            if warm.phase != "Succeeded":
                raise RuntimeError(f"warm-up run ended {warm.phase}: {warm.message}")
            gc.collect()
            rss0, hwm0 = proc_status_kb("VmRSS"), proc_status_kb("VmHWM")

            ids = [f"wait-{i}" for i in range(count)]
            t0 = time.perf_counter()
            started = await asyncio.gather(*(engine.start(request=RunRequest(run_id=r, template=spec)) for r in ids))
            start_s = time.perf_counter() - t0
            gc.collect()
            rss1, hwm1 = proc_status_kb("VmRSS"), proc_status_kb("VmHWM")
            db, wal = sqlite_size(path)
            paused = sum(o.phase == "WaitingApproval" for o in started)

            t0 = time.perf_counter()
            done = await asyncio.gather(*(engine.approve(run_id=r, decision="Approved", by="bench") for r in ids))
            finish_s = time.perf_counter() - t0
            succeeded = sum(o.phase == "Succeeded" for o in done)
            rss2 = proc_status_kb("VmRSS")
        finally:
            await engine.aclose()

    per_run = (rss1 - rss0) / count
    figures.lines += [
        f"2. {count} concurrent runs waiting for approval (SQLite checkpointer, approval + 2 no-op steps)",
        f"   started all in {start_s:.2f} s ({start_s * 1000 / count:.2f} ms per run); "
        f"{paused}/{count} in WaitingApproval",
        f"   VmRSS  before {rss0 / 1024:7.1f} MB  waiting {rss1 / 1024:7.1f} MB  "
        f"delta {(rss1 - rss0) / 1024:6.1f} MB = {per_run:.1f} KB per waiting run",
        f"   VmHWM  before {hwm0 / 1024:7.1f} MB  waiting {hwm1 / 1024:7.1f} MB (process peak so far)",
        f"   SQLite file {db / 1024:.0f} KB + WAL {wal / 1024:.0f} KB = {(db + wal) / count / 1024:.1f} KB per run "
        f"(includes the warm-up run)",
        f"   approved all in {finish_s:.2f} s ({finish_s * 1000 / count:.2f} ms per run); "
        f"{succeeded}/{count} Succeeded; VmRSS afterwards {rss2 / 1024:.1f} MB",
    ]
    figures.failures = count - succeeded
    return figures


async def run_part(part: str, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="suture-bench-") as tmp:
        if part == "overhead":
            figures = await overhead(args.runs, args.steps, Path(tmp))
        else:
            figures = await waiting(args.waiting, Path(tmp))
    for line in figures.lines:
        print(line, flush=True)
    if figures.failures:
        print(f"FAILED: {figures.failures} of {args.waiting} approved runs did not succeed", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=50, help="sequential runs per checkpointer (part 1)")
    parser.add_argument("--steps", type=int, default=20, help="no-op action steps per run (part 1)")
    parser.add_argument("--waiting", type=int, default=1000, help="runs waiting for approval at once (part 2)")
    parser.add_argument(
        "--part", choices=("both", "overhead", "waiting"), default="both", help="both: each in a child process"
    )
    args = parser.parse_args()
    if min(args.runs, args.steps, args.waiting) < 1:
        parser.error("--runs, --steps and --waiting must be at least 1")
    if args.part != "both":
        sys.exit(asyncio.run(run_part(args.part, args)))
    print(
        f"python {platform.python_version()}  langgraph {version('langgraph')}  "
        f"langgraph-checkpoint-sqlite {version('langgraph-checkpoint-sqlite')}  cpus {os.cpu_count()}",
        flush=True,
    )
    sizes = ["--runs", str(args.runs), "--steps", str(args.steps), "--waiting", str(args.waiting)]
    status = 0
    for part in ("overhead", "waiting"):
        child = subprocess.run([sys.executable, __file__, "--part", part, *sizes], check=False)
        status = status or child.returncode
    sys.exit(status)


if __name__ == "__main__":
    main()
