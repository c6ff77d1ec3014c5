"""`python -m suture.demo up|scenario|down`: the parts of `make demo` (hack/demo.sh drives them)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from suture.demo.scenario import (
    Watch,
    bad_rollout,
    deploy,
    deployment,
    heal_nodes,
    node_pressure,
    oom_learning,
    outcome_of,
    template_of,
)
from suture.demo.stack import Stack, stop
from suture.kube import connect
from suture.table import render_table

NAMESPACE = "shop"
HOME = "suture-demo"


def _printer(start: float) -> Any:
    def say(line: str) -> None:
        print(f"[demo {time.strftime('%H:%M:%S')} +{time.monotonic() - start:4.0f}s] {line}", flush=True)

    return say


async def scenario(kubeconfig: str, prometheus_url: str) -> int:
    """Three faults at once (crash loop, node pressure, OOM), the OOM one twice; a summary table at the end."""
    say = _printer(time.monotonic())
    kube = await connect(kubeconfig)
    try:
        await heal_nodes(kube)
        watch = Watch(kube, (NAMESPACE, HOME), prometheus_url, say)
        watcher = asyncio.create_task(watch.run())
        say(f"workload: Deployment {NAMESPACE}/web, 3 x nginx:1.27")
        await deploy(kube, NAMESPACE, deployment("web", replicas=3))
        say(f"fault: roll {NAMESPACE}/web out to nginx:bad (its new pod crash-loops)")
        await bad_rollout(kube, NAMESPACE, "web")
        node = sorted(n["metadata"]["name"] for n in await kube.list("Node"))[-1]
        say(f"fault: node {node} reports MemoryPressure")
        await node_pressure(kube, node)
        first, second = await oom_learning(kube, NAMESPACE, watch, say)
        crash = await watch.outcome("KubePodCrashLooping", where=lambda _: True, timeout=300)
        pressure = await watch.outcome("KubeNodePressure", where=lambda _: True, timeout=300)
        await asyncio.sleep(1)
        watcher.cancel()
        results = [crash, pressure, first, second]
        _summary(results)
        learned = (second.get("status") or {}).get("recommendation") or {}
        print("\nWhy checkout got a different template than cart (status.recommendation of its Remediation):")
        for reason in learned.get("reasons") or []:
            print(f"  {learned.get('template')}: {reason}")
        for alt in learned.get("alternatives") or []:
            print(f"  {alt['template']} ({alt['score']:.2f}): {alt.get('reason', '')}")
        expected = ["Effective", "Effective", "Ineffective", "Effective"]
        ok = [outcome_of(r) for r in results] == expected and template_of(first) != template_of(second)
        return 0 if ok else 1
    finally:
        await kube.close()


def _summary(results: list[dict[str, Any]]) -> None:
    rows = []
    for item in results:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        alert = spec.get("alert") or {}
        labels = alert.get("labels") or {}
        verification = status.get("verification") or {}
        took = verification.get("timeToResolveSeconds")
        rows.append(
            [
                alert.get("name", ""),
                "/".join(labels[k] for k in ("namespace", "deployment", "pod", "node") if k in labels),
                template_of(item),
                outcome_of(item),
                f"{took:.0f}s" if isinstance(took, int | float) else "-",
            ]
        )
    print("\nOutcomes (each alert fired by a Prometheus rule, routed by Alertmanager, resolved or not in Prometheus):")
    print(render_table(["ALERT", "TARGET", "TEMPLATE", "OUTCOME", "RESOLVED AFTER RUN"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suture.demo")
    parser.add_argument("command", choices=["up", "scenario", "down"])
    parser.add_argument("--state", type=Path, required=True, help="the demo's state directory (pids, logs, data)")
    parser.add_argument("--kubeconfig", default="")
    args = parser.parse_args(argv)
    stack = Stack(state=args.state, kubeconfig=args.kubeconfig, home_namespace=HOME)
    if args.command == "up":
        stack.start()
        return 0
    if args.command == "down":
        print("stopped: " + (", ".join(stop(args.state)) or "nothing was running"))
        return 0
    return asyncio.run(scenario(args.kubeconfig, stack.prometheus_url))


if __name__ == "__main__":
    sys.exit(main())
