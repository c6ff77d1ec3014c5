"""Crash between an action's write to the real API server and its step's checkpoint.

A worker process runs the engine with the real registry; the test seam kills
it the moment the API server has answered a chosen write. A new process
resumes the run, which then fails and rolls back. ``metadata.generation``
counts the spec changes the API server accepted, so "applied once, undone
once" is read from the server itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suture.kube import KubeClient
from tests.conftest import REPO, deployment

WORKER = Path(__file__).with_name("crash_worker.py")


def _worker(tmp: Path, kubeconfig: str, namespace: str, template: str, mode: str, crash_after: str = "") -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SUTURE_TEST_CRASH_AFTER_WRITE", None)
    if crash_after:
        env["SUTURE_TEST_CRASH_AFTER_WRITE"] = crash_after
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(tmp), kubeconfig, namespace, template, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if crash_after:
        assert proc.returncode == 9, (proc.stdout, proc.stderr)
        assert "CRASH after" in proc.stdout, proc.stdout
    else:
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


async def _memory(kube: KubeClient, namespace: str) -> tuple[int, dict[str, Any]]:
    obj = await kube.get("Deployment", "web", namespace)
    return int(obj["metadata"]["generation"]), obj["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.mark.timeout(300)
async def test_relative_change_interrupted_after_its_write_is_applied_once_and_undone(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    resources = {"limits": {"memory": "128Mi"}, "requests": {"memory": "64Mi"}}
    body = deployment("web", 1)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    await kube.create("Deployment", body, namespace)
    generation, _ = await _memory(kube, namespace)

    _worker(tmp_path, kubeconfig, namespace, "relative", "start", crash_after="/deployments/web")
    after_crash = await _memory(kube, namespace)
    assert after_crash == (generation + 1, {"limits": {"memory": "256Mi"}, "requests": {"memory": "128Mi"}})

    out = _worker(tmp_path, kubeconfig, namespace, "relative", "resume")

    assert "OUTCOME RolledBack" in out, out
    # The replay found its own write (computed 2 x 128Mi from the recorded pre-state,
    # not 2 x 256Mi from live state), wrote nothing, and the rollback restored the original.
    assert await _memory(kube, namespace) == (generation + 2, resources)


@pytest.mark.timeout(300)
async def test_rollout_with_approvals_and_a_crash_applies_each_wave_once(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        await kube.create("Deployment", deployment(name, 1, labels={"app": name, "tier": "waves"}), namespace)
    start = {n: (await kube.get("Deployment", n, namespace))["metadata"]["generation"] for n in ("a", "b")}

    async def state() -> dict[str, tuple[int, int]]:
        out = {}
        for name in ("a", "b"):
            obj = await kube.get("Deployment", name, namespace)
            out[name] = (int(obj["metadata"]["generation"]) - start[name], int(obj["spec"]["replicas"]))
        return out

    out = _worker(tmp_path, kubeconfig, namespace, "rollout", "start")
    assert "OUTCOME WaitingApproval" in out, out
    assert await state() == {"a": (1, 2), "b": (0, 1)}  # wave 1 done, waiting before wave 2

    # The approval resumes the rollout step from its start: wave 1 must not be applied again.
    _worker(tmp_path, kubeconfig, namespace, "rollout", "approve", crash_after="/deployments/b/scale")
    assert await state() == {"a": (1, 2), "b": (1, 2)}

    # The answer died with the process before a checkpoint: the run still waits at the same
    # gate, and the operator answers it again from the Remediation's spec after its restart.
    out = _worker(tmp_path, kubeconfig, namespace, "rollout", "approve")

    assert "OUTCOME RolledBack" in out, out
    # b's `item.spec.replicas + 1` was not recomputed from the 2 it had already set.
    assert await state() == {"a": (2, 1), "b": (2, 1)}
