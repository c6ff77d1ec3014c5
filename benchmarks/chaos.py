"""`make chaos`: seeded trials that SIGKILL `suture run` while alerts arrive and runs execute.

Run:
  .venv/bin/python benchmarks/chaos.py --kubeconfig K [--trials 30] [--first-seed 1] [--json PATH]

Each trial (tests/cluster/chaos.py says what one does and audits) posts alerts
through the webhook, retrying like Alertmanager, while the operator is killed
at random moments (and, through a test seam, right after an action's write
before its checkpoint) and restarted. Prints one row per trial and the table
of totals; writes the totals to benchmarks/out/chaos.json. Exits 1 when any
alert was lost, any step applied twice, any run stuck or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.chaos import Operator, Settings, TrialResult, remove_namespace, run_trial, setup_namespace, totals
from tests.cluster.conftest import install_crds

from suture.kube import KubeClient, connect
from suture.table import render_table

OUT = Path(__file__).resolve().parent / "out" / "chaos.json"
COLUMNS = ("trials", "kills", "alerts", "runs", "double-applied", "lost", "stuck")


async def one(kube: KubeClient, op: Operator, seed: int) -> TrialResult:
    r = await run_trial(kube, op, seed)
    flag = "ok" if r.ok() else "FAIL " + "; ".join(r.problems)
    print(
        f"seed {seed:3d}: {r.alerts} alerts, {r.kills} kills, {r.runs} runs, "
        f"{r.writes} action writes, {r.seconds:.0f} s {r.marks}  {flag}",
        flush=True,
    )
    return r


async def lane(kube: KubeClient, kubeconfig: str, seeds: list[int]) -> list[TrialResult]:
    """Trials one after another with one operator in its own namespace."""
    namespace = f"chaos-{uuid.uuid4().hex[:6]}"
    await setup_namespace(kube, namespace)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="suture-chaos-") as tmp:
            op = Operator(kubeconfig, Path(tmp), namespace, seeds[0], Settings())
            try:
                for seed in seeds:
                    results.append(await one(kube, op, seed))
            finally:
                await op.stop()
    finally:
        await remove_namespace(kube, namespace)
    return results


async def trials(args: argparse.Namespace) -> list[TrialResult]:
    """``--parallel`` lanes, each with its own operator and namespace, share the seeds round-robin."""
    kube = await connect(args.kubeconfig)
    await install_crds(kube)  # a fresh cluster (the one `make chaos` creates) has none
    seeds = list(range(args.first_seed, args.first_seed + args.trials))
    lanes = [seeds[i :: args.parallel] for i in range(args.parallel) if seeds[i :: args.parallel]]
    try:
        done = await asyncio.gather(*(lane(kube, args.kubeconfig, s) for s in lanes))
    finally:
        await kube.close()
    return sorted((r for results in done for r in results), key=lambda r: r.seed)


def main(args: argparse.Namespace) -> int:
    results = asyncio.run(trials(args))
    summary = totals(results)
    print()
    print(
        render_table(
            [*COLUMNS, "failed", "dry-run changed"],
            [[*(str(summary[c]) for c in COLUMNS), str(summary["failed"]), str(summary["dry_run_changed"])]],
        )
    )
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten to {path}")
    return 0 if all(r.ok() for r in results) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=3, help="operators (and namespaces) shaken at once")
    parser.add_argument("--json", default=str(OUT), help="where to write the totals")
    sys.exit(main(parser.parse_args()))
