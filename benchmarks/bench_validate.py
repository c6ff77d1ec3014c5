"""How long `suture validate` takes per document (schema + semantic checks + CEL compile).

Run: .venv/bin/python benchmarks/bench_validate.py [rounds]
Prints per-document p50/p99 in milliseconds, first (cold CEL cache) and warm.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from suture.actions import load_registry
from suture.expr.values import compile_expression
from suture.validation import validate_object

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "templates"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    registry = load_registry()
    docs: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)

    compile_expression.cache_clear()
    start = time.perf_counter()
    for doc in docs:
        validate_object(doc, registry)
    cold_ms = (time.perf_counter() - start) * 1000 / len(docs)

    samples = []
    for _ in range(rounds):
        for doc in docs:
            t0 = time.perf_counter()
            validate_object(doc, registry)
            samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"documents: {len(docs)}  rounds: {rounds}  actions registered: {len(registry)}")
    print(f"cold (CEL cache empty): {cold_ms:.2f} ms per document")
    print(f"warm: p50 {p50:.3f} ms  p99 {p99:.3f} ms per document")


if __name__ == "__main__":
    main()
