"""The embedded vector index, two ways: Suture's numpy segments against Qdrant's embedded engine (qdrant_edge).

Run: .venv/bin/python benchmarks/bench_index.py [--points 100000] [--queries 1000]
(qdrant_edge comes from ``pip install qdrant-edge-py``; it is not a dependency of Suture.)

Same workload for both, the one ranking sends: 256-dimensional 0/1 vectors
(about 12 % ones, like hashed alert tokens), 5 families x 4 templates, so one
filter keeps 1/20 of the points; dot product against a weighted query; top 20.
Each engine runs in a fresh child process so its RSS is its own. Printed:
insert time, search p50/p99, reload time, disk, RSS growth. Nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM, FAMILIES, TEMPLATES, LIMIT = 256, 5, 4, 20


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def data(n: int) -> tuple[np.ndarray, list[tuple[str, str]]]:
    rng = np.random.default_rng(1)
    vectors = (rng.random((n, DIM)) < 0.12).astype(np.float32)
    keys = [(f"F{i % FAMILIES}", f"t{(i // FAMILIES) % TEMPLATES}") for i in range(n)]
    return vectors, keys


def queries(q: int) -> list[tuple[np.ndarray, str, str]]:
    rng = np.random.default_rng(2)
    weights = rng.random(DIM).astype(np.float32)
    return [
        (((rng.random(DIM) < 0.12) * weights).astype(np.float32), f"F{i % FAMILIES}", f"t{i % TEMPLATES}")
        for i in range(q)
    ]


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run_numpy(n: int, q: int, where: Path) -> dict[str, float]:
    from suture.recommend import NumpyIndex, Point

    vectors, keys = data(n)
    base = rss_mb()
    t0 = time.perf_counter()
    idx = NumpyIndex(dim=DIM, path=where / "vectors.log", durable=False)
    for i, (family, template) in enumerate(keys):
        idx.add(Point(id=str(i), family=family, template=template, effective=bool(i % 2), seq=i, vector=vectors[i]))
    insert = time.perf_counter() - t0
    idx.close()
    del idx  # before the reload, so RSS holds one copy
    t0 = time.perf_counter()
    idx = NumpyIndex(dim=DIM, path=where / "vectors.log")
    reload = time.perf_counter() - t0
    times = []
    for query, family, template in queries(q):
        t1 = time.perf_counter()
        idx.search(query, family=family, template=template, limit=LIMIT)
        times.append(time.perf_counter() - t1)
    idx.close()
    return summary(insert, reload, times, disk_mb(where), rss_mb() - base)


def run_edge(n: int, q: int, where: Path) -> dict[str, float]:
    import qdrant_edge as qe

    vectors, keys = data(n)
    base = rss_mb()
    config = qe.EdgeConfig(vectors={"v": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Dot)})
    t0 = time.perf_counter()
    shard = qe.EdgeShard.create(str(where / "shard"), config)
    for key in ("family", "template"):
        shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
    for start in range(0, n, 1000):
        batch = [
            qe.Point(i, {"v": vectors[i].tolist()}, {"family": keys[i][0], "template": keys[i][1], "ok": bool(i % 2)})
            for i in range(start, min(n, start + 1000))
        ]
        shard.update(qe.UpdateOperation.upsert_points(batch))
    shard.flush()
    insert = time.perf_counter() - t0
    shard.close()
    del shard
    t0 = time.perf_counter()
    shard = qe.EdgeShard.load(str(where / "shard"))
    reload = time.perf_counter() - t0
    times = []
    params = qe.SearchParams(exact=True)
    for query, family, template in queries(q):
        flt = qe.Filter(
            must=[
                qe.FieldCondition("family", match=qe.MatchValue(family)),
                qe.FieldCondition("template", match=qe.MatchValue(template)),
            ]
        )
        request = qe.SearchRequest(
            query=qe.Query.Nearest(query.tolist(), using="v"), limit=LIMIT, filter=flt, params=params, with_payload=True
        )
        t1 = time.perf_counter()
        shard.search(request)
        times.append(time.perf_counter() - t1)
    shard.close()
    return summary(insert, reload, times, disk_mb(where), rss_mb() - base)


def summary(insert: float, reload: float, times: list[float], disk: float, rss: float) -> dict[str, float]:
    p50, p99 = np.percentile(np.asarray(times) * 1000, [50, 99])
    return {"insert_s": insert, "reload_s": reload, "p50_ms": p50, "p99_ms": p99, "disk_mb": disk, "rss_mb": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--engine", choices=["numpy", "qdrant_edge"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        where = Path(tempfile.mkdtemp(prefix="suture-bench-index-"))
        try:
            runner = run_numpy if args.engine == "numpy" else run_edge
            print(json.dumps(runner(args.points, args.queries, where)))
        finally:
            shutil.rmtree(where, ignore_errors=True)
        return 0
    print(
        f"{args.points} points, {DIM} dims, filter keeps 1/{FAMILIES * TEMPLATES}, top {LIMIT}, {os.cpu_count()} cpus"
    )
    print(f"{'engine':12} {'insert s':>9} {'reload s':>9} {'p50 ms':>8} {'p99 ms':>8} {'disk MB':>8} {'+RSS MB':>8}")
    for engine in ("numpy", "qdrant_edge"):
        argv = [
            sys.executable,
            __file__,
            "--engine",
            engine,
            "--points",
            str(args.points),
            "--queries",
            str(args.queries),
        ]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{engine:12} failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
            continue
        r = json.loads(out.stdout)
        print(
            f"{engine:12} {r['insert_s']:9.2f} {r['reload_s']:9.2f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
            f"{r['disk_mb']:8.1f} {r['rss_mb']:8.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
