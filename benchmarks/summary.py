"""`make bench`: every benchmark, one summary table with targets, and benchmarks/out/summary.json.

Run: .venv/bin/python benchmarks/summary.py --kubeconfig K [--quick]

Runs each benchmark script as a child process (its own full output goes to
benchmarks/out/<name>.log), takes the figures from its output, and prints one
row per figure with its target and whether it is met. ``--quick`` uses smaller
sample counts (for a smoke run; the figures are noisier). The machine
(CPU model, cores, load average before and after) is recorded with the figures:
on a shared host the load decides much of the latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    unit: str
    target: str  # e.g. ">= 2000", "< 500", "" (reported, no target)


ROWS = (
    Row("receiver_alerts_per_s", "receiver alone, API faked (best of 1/50-alert, 1/8 senders)", "alerts/s", ">= 2000"),
    Row("webhook_1alert_p99_ms", "1-alert payload to stored Remediation, local control plane (p99)", "ms", "< 100"),
    Row("webhook_p99_ms", "50-alert payload to stored Remediations, local control plane", "ms", ""),
    Row("am_to_remediation_p99_ms", "Alertmanager API to Remediation created, group_wait 0s (p99)", "ms", "< 500"),
    Row("e2e_p99_ms", "alert posted to Alertmanager to first action applied", "ms", "< 500"),
    Row("engine_step_overhead_ms", "engine time per no-op step, SQLite checkpoints (p50)", "ms", "< 5"),
    Row("ranking_p99_ms_100k", "rank with 100k stored alerts (p99)", "ms", "< 3"),
    Row("waiting_runs_rss_kb_per_run", "`suture run`: VmRSS per run waiting for approval (1,000 at once)", "KB", ""),
    Row("waiting_runs_cpu_percent", "`suture run`: CPU while 1,000 runs wait for approval", "%", ""),
    Row("engine_waiting_rss_kb_per_run", "the same in a bare engine process (no kopf, no API server)", "KB", ""),
    Row("idle_rss_mb", "operator idle, example templates loaded (VmRSS)", "MB", "< 150"),
    Row("burst_alerts_per_s", "10,000-alert burst through the webhook, bounded in-flight", "alerts/s", ""),
    Row("burst_lost_or_doubled", "occurrences of the burst lost or stored twice", "", "== 0"),
)


def met(target: str, value: float | None) -> str:
    if value is None:
        return "FAILED"
    if not target:
        return "-"
    op, _, bound = target.partition(" ")
    checks: dict[str, Callable[[float, float], bool]] = {
        ">=": lambda v, b: v >= b,
        "<": lambda v, b: v < b,
        "==": lambda v, b: v == b,
    }
    return "met" if checks[op](value, float(bound)) else "NOT met"


def bench(name: str, *args: str, log: str = "") -> str:
    """Run benchmarks/<name>.py; its output, also kept in benchmarks/out/<log or name>.log."""
    started = time.monotonic()
    print(f"running {name} {' '.join(args)} ...", flush=True)
    proc = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True, text=True, check=False
    )
    (OUT / f"{log or name}.log").write_text(proc.stdout + proc.stderr)
    print(f"  done in {time.monotonic() - started:.0f} s (exit {proc.returncode})", flush=True)
    return proc.stdout


def grab(pattern: str, text: str, pick: Callable[[list[float]], float] = max) -> float | None:
    found = [float(m) for m in re.findall(pattern, text)]
    return pick(found) if found else None


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=str(OUT / "summary.json"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    before = machine()
    q = args.quick
    figures: dict[str, float | None] = {}

    text = bench("bench_webhook", "--requests", "100" if q else "400")
    figures["receiver_alerts_per_s"] = grab(r"(\d+) alerts/s", text)
    text = bench(
        "bench_webhook",
        "--kubeconfig",
        args.kubeconfig,
        "--requests",
        "20" if q else "100",
        "--alertmanager",
        log="bench_webhook_cluster",
    )
    figures["am_to_remediation_p99_ms"] = grab(r"to Remediation created.*p99\s+([\d.]+) ms", text)
    figures["webhook_1alert_p99_ms"] = grab(r" 1-alert payloads, 1 sender\(s\).*p99\s+([\d.]+) ms", text)
    figures["webhook_p99_ms"] = grab(r"50-alert payloads, 1 sender\(s\).*p99\s+([\d.]+) ms", text)

    e2e_json = OUT / "e2e.json"
    bench("bench_e2e", "--kubeconfig", args.kubeconfig, "--samples", "10" if q else "30", "--json", str(e2e_json))
    e2e = json.loads(e2e_json.read_text()) if e2e_json.exists() else {}
    figures["e2e_p99_ms"] = e2e.get("e2e_p99_ms")
    figures["idle_rss_mb"] = e2e.get("idle_rss_mb")

    text = bench("bench_engine", "--runs", "10" if q else "50", "--waiting", "1000")
    figures["engine_step_overhead_ms"] = grab(r"\(b\) SQLite \(default\)\s+p50\s+([\d.]+) ms", text)
    figures["engine_waiting_rss_kb_per_run"] = grab(r"= ([\d.]+) KB per waiting run", text)

    waiting_json = OUT / "waiting.json"  # 1,000 even when quick: the figure is about that many
    bench("bench_waiting", "--kubeconfig", args.kubeconfig, "--runs", "1000", "--json", str(waiting_json))
    waiting = json.loads(waiting_json.read_text()) if waiting_json.exists() else {}
    figures["waiting_runs_rss_kb_per_run"] = waiting.get("waiting_runs_rss_kb_per_run")
    cpu = waiting.get("waiting_cpu_s_per_s")
    figures["waiting_runs_cpu_percent"] = None if cpu is None else round(cpu * 100, 2)

    text = bench("bench_ranking", "--sizes", "100000", "--queries", "300" if q else "2000")
    figures["ranking_p99_ms_100k"] = grab(r"100000 stored\s+rank p50\s+[\d.]+ ms\s+p99\s+([\d.]+) ms", text)

    burst_json = OUT / "burst.json"
    bench("bench_burst", "--alerts", "2000" if q else "10000", "--json", str(burst_json))
    burst = json.loads(burst_json.read_text()) if burst_json.exists() else {}
    figures["burst_alerts_per_s"] = burst.get("alerts_per_s")
    figures["burst_lost_or_doubled"] = (burst["lost"] + burst["duplicates"]) if burst else None

    after = machine()
    rows = [
        [r.key, r.what, f"{figures.get(r.key)} {r.unit}".strip(), r.target or "-", met(r.target, figures.get(r.key))]
        for r in ROWS
    ]
    widths = [max(len(str(row[i])) for row in [["figure", "what", "value", "target", "met"], *rows]) for i in range(5)]
    for row in [["figure", "what", "value", "target", "met"], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"machine: {before['cpu']}, {before['cores']} cores; "
        f"load average {before['load']} before, {after['load']} after"
    )
    summary = {
        **{r.key: figures.get(r.key) for r in ROWS},
        "targets": {r.key: r.target for r in ROWS if r.target},
        "met": {r.key: met(r.target, figures.get(r.key)) for r in ROWS},
        "machine": {**before, "load_after": after["load"]},
        "quick": q,
    }
    Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0 if all(figures.get(r.key) is not None for r in ROWS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
