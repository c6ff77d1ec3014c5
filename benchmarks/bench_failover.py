"""Leader failover time of two `suture run` replicas: after a crash (SIGKILL) and after a clean shutdown (SIGTERM).

Run (Suture's CRDs installed: kubectl apply -f crds/):
  .venv/bin/python benchmarks/bench_failover.py --kubeconfig K [--rounds 3]
      [--lease-duration 15 --renew-deadline 10 --retry-period 2]

Starts two replicas with leader election in a throwaway namespace (their home
namespace, where the Lease lives), sharing one checkpoint file and journal.
Each round stops the current leader, measures from the signal until the
survivor reports ``suture_leader 1`` on /metrics (polled every 20 ms), then
starts the stopped replica again as the follower. Rounds alternate SIGKILL and
SIGTERM. Prints each figure and the median per signal; for SIGTERM also the
time the stopped replica took to exit (drain, release, close).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import ClientError, ClientSession

from suture.kube import KubeClient, connect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    """One `suture run` subprocess."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.data = workdir / name
        self.data.mkdir()
        self.port = _free_port()
        token = self.data / "token"
        token.write_text(secrets.token_urlsafe(16))
        self.env = {
            **os.environ,
            **env,
            "SUTURE_DATA_DIR": str(self.data),
            "SUTURE_PORT": str(self.port),
            "SUTURE_LISTEN_ADDRESS": "127.0.0.1",
            "SUTURE_WEBHOOK_TOKEN_FILE": str(token),
        }
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, namespace: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "suture.cli",
            "run",
            "--namespace",
            namespace,
            env=self.env,
            stdout=(self.data / "operator.log").open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )

    async def leader(self, session: ClientSession) -> float | None:
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/metrics") as response:
                text = await response.text()
        except (ClientError, OSError):
            return None
        for line in text.splitlines():
            if line.startswith("suture_leader "):
                return float(line.split()[1])
        return None

    async def ready(self, session: ClientSession) -> bool:
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                return response.status == 200
        except (ClientError, OSError):
            return False


async def _until(probe: object, *, timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``probe()`` is truthy."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if await probe():  # type: ignore[operator]
            return time.perf_counter() - started
        await asyncio.sleep(interval)
    raise TimeoutError(f"nothing happened within {timeout} s")


async def run(args: argparse.Namespace) -> None:
    kube: KubeClient = await connect(args.kubeconfig)
    namespace = f"bench-failover-{uuid.uuid4().hex[:6]}"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    workdir = Path(tempfile.mkdtemp(prefix="suture-failover-"))
    env = {
        "KUBECONFIG": args.kubeconfig,
        "SUTURE_LEADER_ELECTION": "1",
        "SUTURE_HOME_NAMESPACE": namespace,
        "SUTURE_LEASE_DURATION": str(args.lease_duration),
        "SUTURE_LEASE_RENEW_DEADLINE": str(args.renew_deadline),
        "SUTURE_LEASE_RETRY_PERIOD": str(args.retry_period),
        "SUTURE_CHECKPOINTS": str(workdir / "checkpoints.sqlite"),
        "SUTURE_DATABASE_URL": str(workdir / "suture.sqlite"),
    }
    replicas = [Replica(name, workdir, env) for name in ("a", "b")]
    figures: dict[str, list[float]] = {"SIGKILL": [], "SIGTERM": []}
    exits: list[float] = []
    print(
        f"leader failover, 2 replicas; lease duration {args.lease_duration} s, renew deadline "
        f"{args.renew_deadline} s, retry period {args.retry_period} s"
    )
    try:
        async with ClientSession() as session:
            leader, follower = replicas
            await leader.start(namespace)
            await _until(lambda: _is(leader, session, 1), timeout=180)
            await follower.start(namespace)
            await _until(lambda: follower.ready(session), timeout=180)
            for round_ in range(args.rounds * 2):
                sig = signal.SIGKILL if round_ % 2 == 0 else signal.SIGTERM
                await asyncio.sleep(args.retry_period * 2)  # the follower has seen a few renewals
                assert leader.proc is not None
                sent = time.perf_counter()
                leader.proc.send_signal(sig)
                exited = asyncio.create_task(_exit_after(leader.proc, sent))
                took = await _until(lambda f=follower: _is(f, session, 1), timeout=args.lease_duration * 4)
                figures[sig.name].append(took)
                line = f"  {sig.name}: the survivor leads after {took:6.2f} s"
                if sig == signal.SIGTERM:
                    exits.append(await exited)
                    line += f"; the stopped replica exited after {exits[-1]:.2f} s"
                await exited
                print(line, flush=True)
                await leader.start(namespace)  # back as the follower
                await _until(lambda r=leader: r.ready(session), timeout=180)
                leader, follower = follower, leader
    finally:
        for replica in replicas:
            if replica.proc is not None and replica.proc.returncode is None:
                replica.proc.kill()
                await replica.proc.wait()
        await kube.delete("Namespace", namespace)
        await kube.close()
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(values):.2f} s, max {max(values):.2f} s over {len(values)} rounds")
    print(f"SIGTERM to exit (no run in flight): median {statistics.median(exits):.2f} s")


async def _exit_after(proc: asyncio.subprocess.Process, sent: float) -> float:
    await proc.wait()
    return time.perf_counter() - sent


async def _is(replica: Replica, session: ClientSession, value: float) -> bool:
    return await replica.leader(session) == value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", required=True, help="the cluster (Suture's CRDs installed)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per signal (default 3)")
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
