"""The short version of `make chaos`: a few seeded trials of SIGKILLs while alerts arrive and runs execute."""

from __future__ import annotations

import uuid
from pathlib import Path

from suture.kube import KubeClient
from tests.cluster.chaos import Operator, Settings, remove_namespace, run_trial, setup_namespace, totals

SEEDS = (1, 2)  # `make chaos` runs 30; two keep `make test` within its budget (~1 min)
SHORT = Settings(alerts=(3, 4), kills=(1, 2))


async def test_sigkilled_operator_loses_nothing_applies_nothing_twice_and_leaves_nothing_stuck(
    kube: KubeClient, kubeconfig: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    namespace = f"chaos-{uuid.uuid4().hex[:6]}"
    await setup_namespace(kube, namespace)
    op = Operator(kubeconfig, tmp_path, namespace, SEEDS[0], SHORT)
    try:
        results = [await run_trial(kube, op, seed) for seed in SEEDS]
    finally:
        await op.stop()
        await remove_namespace(kube, namespace)
    summary = totals(results)
    problems = [p for r in results for p in r.problems]
    assert summary["kills"] >= len(SEEDS), summary
    assert (summary["lost"], summary["double-applied"], summary["stuck"]) == (0, 0, 0), problems
    assert (summary["failed"], summary["duplicates"], summary["dry_run_changed"]) == (0, 0, 0), problems
    assert summary["runs"] == summary["alerts"], problems
