"""Start-up time and peak memory of the local control plane.

Run: .venv/bin/python benchmarks/bench_control_plane.py
Starts the cluster `suture-bench` (cold: created; then warm: already running),
puts a 5-replica Deployment on it, prints each component's peak RSS (VmHWM)
and removes the cluster again.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "suture-bench"
COMPONENTS = ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok")


def cluster_up() -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(REPO / "hack" / "cluster-up.sh")],
        env={**os.environ, "SUTURE_CLUSTER": NAME},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - t0, out.stdout.strip().splitlines()[-1].removeprefix("KUBECONFIG=")


def peak_rss_mb() -> dict[str, float]:
    marker = f"/kwok/clusters/{NAME}/"
    peaks: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if marker not in cmd:
            continue
        name = Path(cmd).name
        hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
        peaks[name] = peaks.get(name, 0.0) + int(hwm) / 1024
    return peaks


def main() -> None:
    kubectl = subprocess.run(
        ["bash", "-c", f". {REPO}/hack/versions.sh && echo $SUTURE_BIN/kubectl-$KUBE_VERSION/kubectl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        cold, kubeconfig = cluster_up()
        warm, _ = cluster_up()
        k = [kubectl, "--kubeconfig", kubeconfig]
        subprocess.run(
            [*k, "create", "deployment", "web", "--image=nginx", "--replicas=5"], check=True, capture_output=True
        )
        t0 = time.perf_counter()
        subprocess.run([*k, "rollout", "status", "deployment/web", "--timeout=60s"], check=True, capture_output=True)
        ready = time.perf_counter() - t0
        peaks = peak_rss_mb()
        print(f"cluster-up (binaries cached, cluster created): {cold:.1f} s")
        print(f"cluster-up (cluster already running):          {warm:.1f} s")
        print(f"5-replica Deployment to Available:              {ready:.2f} s")
        print("peak RSS (VmHWM) per component:")
        for name in sorted(peaks):
            print(f"  {name:28s} {peaks[name]:7.1f} MB")
        print(f"  {'total':28s} {sum(peaks.values()):7.1f} MB")
    finally:
        subprocess.run(
            [str(REPO / "hack" / "cluster-down.sh")],
            env={**os.environ, "SUTURE_CLUSTER": NAME},
            check=False,
            capture_output=True,
        )


if __name__ == "__main__":
    main()
