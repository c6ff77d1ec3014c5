"""Ranking latency with 1k, 10k and 100k stored alerts, and the embedded index's reload time.

Run: .venv/bin/python benchmarks/bench_ranking.py [--sizes 1000,10000,100000] [--queries 2000]

Stored alerts come from the learning benchmark's simulated cluster
(benchmarks/learning/world.py: 5 alert families, 3-4 candidate templates each),
so a 100k history holds about 5k past alerts per (family, template), the unit
one search scans. ``--one-family`` puts every stored alert in one family
instead (the worst case: 25k per template). Timed: one full ``Recommender.rank``
call (featurize, weights, one filtered search per candidate, explanation).
Prints p50/p99/max of wall time and of the process's CPU time per call
(the machine is shared: under load, wall time measures the scheduler's queue
as much as the ranking; CPU time is what one rank costs), and the 1-minute
load average. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "learning"))

from world import FAMILIES, Settings, make_alert

from suture.recommend import NumpyIndex, Point, Recommender


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fill(r: Recommender, n: int, *, rng: np.random.Generator, one_family: bool) -> None:
    settings = Settings(alerts=n, drift_at=n // 2)
    for i in range(n):
        alert = make_alert(rng, i, settings)
        if one_family:
            alert.payload["labels"]["alertname"] = FAMILIES[0].alertname
            alert.family = FAMILIES[0]
        template = alert.family.templates[int(rng.integers(len(alert.family.templates)))]
        effective = bool(rng.random() < alert.family.success[alert.cause][template])
        r.record_outcome(alert.payload, template, "Effective" if effective else "Ineffective", context=alert.context)


def measure(n: int, queries: int, one_family: bool) -> None:
    rng = np.random.default_rng(n)
    r = Recommender.in_memory(seed=1)
    before = rss_mb()
    started = time.perf_counter()
    fill(r, n, rng=rng, one_family=one_family)
    filled = time.perf_counter() - started
    grown = rss_mb() - before
    probes = [make_alert(rng, n + i, Settings()) for i in range(queries)]
    timings, cpu = [], []
    for probe in probes:
        t0, c0 = time.perf_counter(), time.process_time()
        r.rank(probe.payload, probe.family.templates, context=probe.context)
        cpu.append((time.process_time() - c0) * 1000)
        timings.append((time.perf_counter() - t0) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    c50, c99 = np.percentile(cpu, [50, 99])
    print(
        f"{n:>7} stored  rank p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  max {max(timings):6.2f} ms  "
        f"| cpu p50 {c50:6.3f} ms  p99 {c99:6.3f} ms  (fill {filled:5.1f} s, +{grown:4.0f} MB RSS, "
        f"load {os.getloadavg()[0]:.1f})"
    )


def reload_time(n: int) -> None:
    """Write ``n`` points through the durable log (fsync off to fill fast), then time a cold reload."""
    dim = 256
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.log"
        idx = NumpyIndex(dim=dim, path=path, durable=False)
        for i in range(n):
            vector = (rng.random(dim) < 0.12).astype(np.float32)
            idx.add(
                Point(id=f"p{i}", family=f"F{i % 5}", template=f"t{i % 4}", effective=bool(i % 2), seq=i, vector=vector)
            )
        idx.close()
        t0 = time.perf_counter()
        again = Recommender(index=NumpyIndex(dim=dim, path=path), featurizer=Recommender.in_memory().featurizer)
        took = time.perf_counter() - t0
        again.close()
        print(
            f"{n:>7} stored  reload (index + token statistics) {took:5.2f} s, "
            f"file {os.path.getsize(path) / 1e6:5.1f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--one-family", action="store_true")
    parser.add_argument("--reload", action="store_true", help="also time reloading a persisted index")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cpus, "
        f"{'one family' if args.one_family else '5 families'}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        measure(n, args.queries, args.one_family)
        if args.reload:
            reload_time(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
