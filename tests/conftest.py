"""Fixtures every test layer shares: the real cluster and a fresh namespace per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suture.kube import KubeClient, connect

REPO = Path(__file__).resolve().parent.parent
TEST_CLUSTER = "suture-test"


def kubectl_binary() -> str:
    """The kubectl built by hack/build-tools.sh (same version as the control plane)."""
    out = subprocess.run(
        ["bash", "-c", f". {REPO}/hack/versions.sh && echo $SUTURE_BIN/kubectl-$KUBE_VERSION/kubectl"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


async def kubectl(kubeconfig: str, *args: str) -> str:
    """Run kubectl against the test cluster; return stdout, fail the test on a non-zero exit."""
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary(),
        "--kubeconfig",
        kubeconfig,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {err.decode()}"
    return out.decode()


def _kwok_env() -> dict[str, str]:
    return {**os.environ, "SUTURE_CLUSTER": TEST_CLUSTER}


PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL 15 server on 127.0.0.1 (installed by hack/ensure-debian-packages.sh)."""
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"{PG_BIN}/postgres is missing: run hack/ensure-debian-packages.sh (make test does)")
    # The server refuses to run as root; run it as the postgres user the package created.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="suture-pg-"))
    if as_user:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run(
        [
            *as_user,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base}"
    subprocess.run(
        [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[str]:
    """Path to the kubeconfig of a real cluster.

    ``SUTURE_TEST_KUBECONFIG`` names an existing cluster (kind, or any test
    cluster). Otherwise the local control plane is started and, unless
    ``SUTURE_KEEP_CLUSTER=1``, removed afterwards. The ambient ``KUBECONFIG`` is
    never used, so a test run cannot touch a production cluster by accident.
    """
    given = os.environ.get("SUTURE_TEST_KUBECONFIG")
    if given:
        yield given
        return
    proc = subprocess.run(
        [str(REPO / "hack" / "cluster-up.sh")], env=_kwok_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the local control plane did not start:\n{proc.stderr[-4000:]}")
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("KUBECONFIG="), proc.stdout
    try:
        yield last.removeprefix("KUBECONFIG=")
    finally:
        if os.environ.get("SUTURE_KEEP_CLUSTER") != "1":
            subprocess.run([str(REPO / "hack" / "cluster-down.sh")], env=_kwok_env(), check=False, capture_output=True)


@pytest.fixture(scope="session")
async def kube(kubeconfig: str) -> AsyncIterator[KubeClient]:
    """A Suture KubeClient logged in to the test cluster."""
    client = await connect(kubeconfig)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    """A fresh namespace, deleted after the test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        await kube.delete("Namespace", name)


async def wait_for(
    probe: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail the test with ``what`` on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def deployment(
    name: str,
    replicas: int,
    *,
    image: str = "nginx:1.27",
    labels: dict[str, str] | None = None,
    **pod_spec: Any,
) -> dict[str, Any]:
    """A minimal Deployment manifest."""
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}], **pod_spec},
            },
        },
    }


async def rolled_out(kube: KubeClient, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The workload once its controller has rolled out its current spec to ready pods."""
    obj = await kube.get(kind, name, namespace)
    status = obj.get("status", {})
    want = obj["spec"].get("replicas", 1)
    done = (
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("readyReplicas") == want
        and status.get("replicas") == want
    )
    return obj if done else None


def persisted(obj: dict[str, Any]) -> dict[str, Any]:
    """What a write would change: generation, spec, labels, annotations, deletion.

    Compare this, not resourceVersion, to prove a dry-run persisted nothing: a
    controller writing status (Deployment, Job, HPA, CronJob, kwok's pods)
    bumps resourceVersion at times a test does not control.
    """
    meta = obj.get("metadata") or {}
    return {
        "generation": meta.get("generation"),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "deletionTimestamp": meta.get("deletionTimestamp"),
        "spec": obj.get("spec"),
    }


def ready_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods that are Running, Ready and not being deleted."""
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("phase") == "Running"
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    ]
