"""An operator-like engine process against the real API server, for the crash-window tests.

``crash_worker.py DIR KUBECONFIG NAMESPACE TEMPLATE start|resume|approve``

The engine has the real action registry, SQLite checkpoints and the SQL
effect journal in DIR. ``SUTURE_TEST_CRASH_AFTER_WRITE=<path suffix>`` makes
the process die (``os._exit``, as SIGKILL would: no cleanup, no checkpoint)
the moment a write whose URL path ends with that suffix has been answered by
the API server: the write is in etcd, the step's checkpoint is not.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suture.actions import load_registry
from suture.api import WorkflowTemplateSpec
from suture.engine import ApprovalDecision, Engine, RunRequest, StepProgress, open_checkpointer
from suture.kube import KubeClient, connect
from suture.store import SqlJournal, open_database

RUN_ID = "cluster-crash-window"
WRITES = ("POST", "PUT", "PATCH", "DELETE")

TEMPLATES: dict[str, dict[str, Any]] = {
    # A relative change (factor) on the run's target, then a failure that rolls back.
    "relative": {
        "steps": [
            {
                "name": "raise",
                "action": {
                    "name": "increase_resources",
                    "params": {"resource": "memory", "factor": 2, "cap": "4Gi"},
                },
            },
            {
                "name": "boom",
                "onFailure": "rollback",
                "action": {"name": "get_resource", "params": {"kind": "ConfigMap", "name": "does-not-exist"}},
            },
        ],
        "timeouts": {"step": "60s"},
    },
    # Two waves of a relative scale with an approval between them, then a failure that rolls back.
    "rollout": {
        "steps": [
            {
                "name": "roll",
                "rollout": {
                    "targets": {"kind": "Deployment", "selector": {"matchLabels": {"tier": "waves"}}},
                    "waves": [50, 100],
                    "approveBetweenWaves": True,
                    "action": {
                        "name": "scale_deployment",
                        "params": {"replicas": "${{ item.spec.replicas + 1 }}"},
                    },
                },
            },
            {
                "name": "boom",
                "onFailure": "rollback",
                "action": {"name": "get_resource", "params": {"kind": "ConfigMap", "name": "does-not-exist"}},
            },
        ],
        "timeouts": {"step": "60s"},
    },
}


def arm_crash(kube: KubeClient) -> None:
    """Make ``kube`` kill the process right after the API server answered the chosen write."""
    suffix = os.environ.get("SUTURE_TEST_CRASH_AFTER_WRITE")
    if not suffix:
        return
    send = kube.request

    async def request(method: str, path: str, **kwargs: Any) -> Any:
        answer = await send(method, path, **kwargs)
        dry = (kwargs.get("query") or {}).get("dryRun")
        if method in WRITES and not dry and path.endswith(suffix):
            print(f"CRASH after {method} {path}", flush=True)
            os._exit(9)
        return answer

    setattr(kube, "request", request)  # noqa: B010 - an instance hook, the test seam's crash point


class PrintSink:
    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        print(f"RUN {phase} {message}", flush=True)

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        print(f"STEP {step.name} {step.phase} {step.message}", flush=True)

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        print(f"APPROVAL {decision.decision}", flush=True)


async def main(directory: str, kubeconfig: str, namespace: str, template: str, mode: str) -> None:
    base = Path(directory)
    kube = await connect(kubeconfig)
    arm_crash(kube)
    async with (
        open_checkpointer(location=str(base / "checkpoints.sqlite")) as saver,
        open_database(location=str(base / "suture.sqlite")) as database,
    ):
        engine = Engine(
            registry=load_registry(), kube=kube, checkpointer=saver, sink=PrintSink(), journal=SqlJournal(database)
        )
        if mode == "start":
            spec = WorkflowTemplateSpec.model_validate(TEMPLATES[template])
            target = await kube.get("Deployment", "web", namespace) if template == "relative" else None
            request = RunRequest(run_id=RUN_ID, template=spec, target=target, namespace=namespace)
            outcome = await engine.start(request=request)
        elif mode == "approve":
            outcome = await engine.approve(run_id=RUN_ID, decision="Approved", by="test")
        else:
            outcome = await engine.resume(run_id=RUN_ID)
        await engine.aclose()
    await kube.close()
    print(f"OUTCOME {outcome.phase}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
