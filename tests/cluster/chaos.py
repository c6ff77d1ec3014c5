"""Seeded chaos trials: SIGKILL `suture run` while alerts arrive through the webhook and runs execute.

One trial (:func:`run_trial`), on the real API server:

1. a few Deployments (replicas 0), one per alert; some alerts go to a dry-run template;
2. `suture run` starts (with the seams of :mod:`tests.cluster.chaos_operator`: seeded
   pauses after each answered write, and sometimes an ``os._exit`` right after an
   action's write, before its checkpoint);
3. each alert is posted at a random moment and re-posted like Alertmanager does
   (on a 5xx or a connection error, until a 2xx), sometimes twice (a repeat);
4. meanwhile the process is SIGKILLed at random moments and restarted;
5. once every alert was answered 2xx, the process is left alone until every
   Remediation has finished (or a deadline passes), and the trial is audited.

The audit, per alert answered 2xx: exactly one Remediation carries its
fingerprint (none: lost; two: a duplicate run), and it finished (phase
Verifying or Succeeded; otherwise stuck, or failed). Per Deployment the chaos
template scales twice, to ``replicas+1`` then ``replicas+2`` of the target as
the run first saw it: a step applied twice shows as a wrong replica count
(a relative change re-applied) or as a ``metadata.generation`` that moved more
than twice (the API server bumps it once per spec change, so an extra write
that changed the spec is counted even when the end value looks right). A
dry-run Deployment must keep its spec and generation untouched.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from suture.api import API_VERSION, TERMINAL_PHASES
from suture.kube import KubeClient
from tests.conftest import REPO, deployment, free_port

FINGERPRINT_LABEL = "suture.dev/fingerprint"
FINISHED = frozenset({"Verifying", "Succeeded"})


def _steps() -> list[dict[str, Any]]:
    def scale(name: str, plus: int) -> dict[str, Any]:
        params = {
            "namespace": "${{ target.metadata.namespace }}",
            "name": "${{ target.metadata.name }}",
            "replicas": f"${{{{ target.spec.replicas + {plus} }}}}",
        }
        return {"name": name, "action": {"name": "scale_deployment", "params": params}}

    return [scale("up-one", 1), {"name": "pause", "wait": {"duration": "1s"}}, scale("up-two", 2)]


def templates() -> list[dict[str, Any]]:
    """The two templates of every trial: ``chaos-fix`` acts, ``chaos-dry`` is the same with dryRun."""
    out = []
    for name, alert, dry in (("chaos-fix", "ChaosBroken", False), ("chaos-dry", "ChaosDry", True)):
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "WorkflowTemplate",
                "metadata": {"name": name},
                "spec": {
                    "match": {"alertNames": [alert]},
                    "target": {"kind": "Deployment", "name": "${{ alert.labels.deployment }}"},
                    "safety": {"dryRun": dry, "cooldown": "0s", "maxRunsPerHour": 0},
                    "verify": {"alertResolvedWithin": "1s"},
                    "steps": _steps(),
                },
            }
        )
    return out


@dataclass
class TrialResult:
    """What one trial saw; the keys of ``benchmarks/out/chaos.json`` are the sums of these."""

    seed: int
    kills: int = 0
    alerts: int = 0
    runs: int = 0
    double_applied: int = 0
    lost: int = 0
    unanswered: int = 0  # never answered 2xx before the deadline: not lost (Alertmanager keeps retrying), but a hang
    stuck: int = 0
    failed: int = 0
    duplicates: int = 0
    dry_run_changed: int = 0
    writes: int = 0
    seconds: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # seconds since the start: ready, delivered, finished
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        """True when every promise held."""
        bad = (self.double_applied, self.lost, self.unanswered, self.stuck, self.failed, self.duplicates)
        return not any(bad) and not self.dry_run_changed


@dataclass
class Settings:
    """How hard a trial shakes."""

    alerts: tuple[int, int] = (3, 6)
    kills: tuple[int, int] = (1, 3)
    window: float = 6.0  # seconds over which alerts arrive and kills land
    write_delay: float = 0.3
    exit_after_write: float = 0.1
    finish_timeout: float = 300.0  # a liveness bound, generous: a loaded 2-core machine restarts slowly


class Operator:
    """The chaos wrapper of `suture run`, restartable, with one data directory for all its lives."""

    def __init__(self, kubeconfig: str, data_dir: Path, namespace: str, seed: int, settings: Settings) -> None:
        self.kubeconfig, self.data_dir, self.namespace = kubeconfig, data_dir, namespace
        self.seed, self.settings = seed, settings
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_urlsafe(24)
        (data_dir / "token").write_text(self.token + "\n")
        self.log = data_dir / "operator.log"
        self.write_log = data_dir / "writes.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.lives = 0

    async def start(self, *, calm: bool = False) -> None:
        """Start a new life; ``calm`` turns the exit-after-write seam off (the trial's settling phase)."""
        self.lives += 1
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "KUBECONFIG": self.kubeconfig,
            "SUTURE_DATA_DIR": str(self.data_dir),
            "SUTURE_PORT": str(self.port),
            "SUTURE_LISTEN_ADDRESS": "127.0.0.1",
            "SUTURE_WEBHOOK_TOKEN_FILE": str(self.data_dir / "token"),
            "SUTURE_HOME_NAMESPACE": self.namespace,
            "SUTURE_VERIFY_INTERVAL": "1",
            "CHAOS_SEED": f"{self.seed}-{self.lives}",
            "CHAOS_WRITE_DELAY": str(self.settings.write_delay),
            "CHAOS_EXIT_AFTER_WRITE": "0" if calm else str(self.settings.exit_after_write),
            "CHAOS_WRITE_LOG": str(self.write_log),
        }
        with self.log.open("ab") as log:
            log.write(f"--- life {self.lives} ---\n".encode())
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.cluster.chaos_operator",
                "run",
                "--namespace",
                self.namespace,
                env=env,
                cwd=str(REPO),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig``; True when it hit a live process."""
        if not self.alive():
            return False
        assert self.proc is not None
        self.proc.send_signal(sig)
        await self.proc.wait()
        return True

    async def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                await self.kill()


async def _deliver(
    op: Operator, session: aiohttp.ClientSession, alert: dict[str, Any], deadline: float
) -> tuple[bool, int]:
    """Post one alert until answered 2xx, as Alertmanager retries (5xx and connection errors only).

    Returns (answered 2xx, attempts).
    """
    body = {"version": "4", "status": "firing", "receiver": "suture", "groupKey": "{}", "alerts": [alert]}
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            async with session.post(
                f"http://127.0.0.1:{op.port}/webhook/alertmanager",
                json=body,
                headers={"Authorization": f"Bearer {op.token}"},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                if 200 <= response.status < 300:
                    return True, attempts
                if response.status < 500:
                    raise AssertionError(f"a {response.status} is dropped by Alertmanager: {await response.text()}")
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.3)
    return False, attempts


def _alert(namespace: str, name: str, deployment_name: str, fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "namespace": namespace, "deployment": deployment_name},
        "annotations": {},
        "startsAt": "2026-11-29T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


async def setup_namespace(kube: KubeClient, namespace: str) -> None:
    """The namespace and the two chaos templates (their Valid condition comes from the operator)."""
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for body in templates():
        await kube.create("WorkflowTemplate", body, namespace, api_version=API_VERSION)


async def remove_namespace(kube: KubeClient, namespace: str) -> None:
    """Delete ``namespace`` once no operator runs: its Remediations' kopf finalizers are lifted first,
    or the namespace would stay Terminating for good."""
    for rem in await kube.list("Remediation", namespace, api_version=API_VERSION):
        body = {"metadata": {"finalizers": None}}
        await kube.patch("Remediation", rem["metadata"]["name"], body, namespace, api_version=API_VERSION)
    await kube.delete("Namespace", namespace)


async def _templates_valid(kube: KubeClient, namespace: str) -> bool:
    for body in templates():
        got = await kube.get("WorkflowTemplate", body["metadata"]["name"], namespace, api_version=API_VERSION)
        conditions = (got.get("status") or {}).get("conditions") or []
        if not any(c["type"] == "Valid" and c["status"] == "True" for c in conditions):
            return False
    return True


async def _readyz(op: Operator, session: aiohttp.ClientSession) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{op.port}/readyz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def run_trial(kube: KubeClient, op: Operator, seed: int) -> TrialResult:
    """One seeded trial with ``op`` in its namespace (prepared by :func:`setup_namespace`).

    See the module docstring. ``op`` is left running, so the next trial starts without a cold start
    (each trial restarts it at least once anyway); stop it after the last.
    """
    settings, namespace = op.settings, op.namespace
    op.seed = seed
    rng = random.Random(seed)
    result = TrialResult(seed=seed)
    began = time.monotonic()
    writes_before = _action_writes(op)
    tag = uuid.uuid4().hex[:6]

    n = rng.randint(*settings.alerts)
    plan = []  # (deployment, alertname, fingerprint, dry)
    for i in range(n):
        dry = rng.random() < 0.25
        name = f"c{seed}-{tag}-{i}"
        await kube.create("Deployment", deployment(name, 0), namespace)
        plan.append((name, "ChaosDry" if dry else "ChaosBroken", f"{tag}{i:02d}", dry))
    before = {name: await kube.get("Deployment", name, namespace) for name, *_ in plan}
    result.alerts = n

    if not op.alive():
        await op.start()
    async with aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        ready_deadline = loop.time() + 90
        while not (await _readyz(op, session) and await _templates_valid(kube, namespace)):
            if loop.time() > ready_deadline:
                raise AssertionError(f"the operator never became ready; see {op.log}")
            await asyncio.sleep(0.2)
        result.marks["ready"] = round(time.monotonic() - began, 1)

        delivery_deadline = time.monotonic() + settings.window + settings.finish_timeout
        answered: dict[str, bool] = {}

        async def send(name: str, alertname: str, fingerprint: str) -> None:
            await asyncio.sleep(rng.uniform(0, settings.window))
            alert = _alert(namespace, alertname, name, fingerprint)
            ok, _ = await _deliver(op, session, alert, delivery_deadline)
            answered[fingerprint] = ok
            if ok and rng.random() < 0.3:  # a repeat notification (repeat_interval, or the HA twin)
                await _deliver(op, session, alert, delivery_deadline)

        kill_times = sorted(rng.uniform(0.3, settings.window) for _ in range(rng.randint(*settings.kills)))
        senders = [asyncio.create_task(send(name, a, fp)) for name, a, fp, _ in plan]

        async def supervise() -> None:
            """Kill at the planned moments; restart whenever the process is gone (killed or self-exited)."""
            start = loop.time()
            pending = list(kill_times)
            while pending or not all(s.done() for s in senders):
                if pending and loop.time() - start >= pending[0]:
                    pending.pop(0)
                    if await op.kill():
                        result.kills += 1
                if not op.alive():
                    if op.proc is not None and op.proc.returncode == 137:
                        result.kills += 1  # the seam's exit right after a write
                    await asyncio.sleep(rng.uniform(0, 0.5))
                    await op.start()
                await asyncio.sleep(0.05)

        await supervise()
        await asyncio.gather(*senders)
        result.marks["delivered"] = round(time.monotonic() - began, 1)

        # Let the runs finish; the process may still die by the seam: restart it, counting.
        finish_deadline = loop.time() + settings.finish_timeout
        while loop.time() < finish_deadline:
            if not op.alive():
                if op.proc is not None and op.proc.returncode == 137:
                    result.kills += 1
                await op.start(calm=True)
            rems = await kube.list("Remediation", namespace, api_version=API_VERSION)
            mine = [r for r in rems if r["metadata"].get("labels", {}).get(FINGERPRINT_LABEL, "").startswith(tag)]
            if len(mine) >= sum(answered.values()) and all(
                (r.get("status") or {}).get("phase") in (*FINISHED, *TERMINAL_PHASES) for r in mine
            ):
                break
            await asyncio.sleep(0.5)
    result.marks["finished"] = round(time.monotonic() - began, 1)

    await _audit(kube, namespace, tag, plan, before, answered, result)
    result.writes = _action_writes(op) - writes_before
    result.seconds = round(time.monotonic() - began, 1)
    return result


def _action_writes(op: Operator) -> int:
    """Writes to Deployments (the actions' writes) the operator has made in all its lives."""
    if not op.write_log.exists():
        return 0
    return sum(1 for line in op.write_log.read_text().splitlines() if "/apis/apps/" in line)


async def _audit(
    kube: KubeClient,
    namespace: str,
    tag: str,
    plan: list[tuple[str, str, str, bool]],
    before: dict[str, dict[str, Any]],
    answered: dict[str, bool],
    result: TrialResult,
) -> None:
    rems = await kube.list("Remediation", namespace, api_version=API_VERSION)
    by_fingerprint: dict[str, list[dict[str, Any]]] = {}
    for rem in rems:
        fp = rem["metadata"].get("labels", {}).get(FINGERPRINT_LABEL, "")
        if fp.startswith(tag):
            by_fingerprint.setdefault(fp, []).append(rem)
    result.runs = sum(len(v) for v in by_fingerprint.values())
    for name, _, fingerprint, dry in plan:
        if not answered.get(fingerprint):
            result.problems.append(f"{fingerprint}: never answered 2xx")
            result.unanswered += 1
            continue
        found = by_fingerprint.get(fingerprint, [])
        if not found:
            result.lost += 1
            result.problems.append(f"{fingerprint}: answered 2xx, no Remediation")
            continue
        if len(found) > 1:
            result.duplicates += 1
            result.problems.append(f"{fingerprint}: {len(found)} Remediations")
        phase = (found[0].get("status") or {}).get("phase")
        if phase not in FINISHED:
            if phase in TERMINAL_PHASES:
                result.failed += 1
            else:
                result.stuck += 1
            message = (found[0].get("status") or {}).get("message", "")
            result.problems.append(f"{fingerprint}: {found[0]['metadata']['name']} ended {phase}: {message}")
        now = await kube.get("Deployment", name, namespace)
        was = before[name]
        moved = now["metadata"]["generation"] - was["metadata"]["generation"]
        if dry:
            if moved or now["spec"]["replicas"] != was["spec"]["replicas"]:
                result.dry_run_changed += 1
                result.problems.append(f"{name}: dry-run changed it (generation +{moved})")
        elif phase in FINISHED and (moved != 2 or now["spec"]["replicas"] != was["spec"]["replicas"] + 2):
            result.double_applied += 1
            result.problems.append(f"{name}: generation +{moved}, replicas {now['spec']['replicas']} (want +2, +2)")


def totals(results: list[TrialResult]) -> dict[str, Any]:
    """The chaos summary (``benchmarks/out/chaos.json``)."""
    keys = ("kills", "alerts", "runs", "double_applied", "lost", "stuck", "unanswered", "failed", "duplicates")
    keys = (*keys, "dry_run_changed")
    out: dict[str, Any] = {"trials": len(results)}
    for key in keys:
        out[key.replace("_", "-") if key == "double_applied" else key] = sum(getattr(r, key) for r in results)
    out["writes"] = sum(r.writes for r in results)
    out["per_trial"] = [asdict(r) for r in results]
    return out
