"""`suture simulate` on a real cluster: live branches, server-side dry-run, nothing changed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.actions import load_registry
from suture.api import WorkflowTemplate
from suture.cli import main
from suture.engine import Engine, RecordingSink, RunRequest, open_checkpointer
from suture.kube import KubeClient
from suture.simulation import simulate
from suture.targets import resolve_target
from tests.conftest import deployment, persisted, ready_pods, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _crashloop_template(namespace: str) -> WorkflowTemplate:
    doc = yaml.safe_load((EXAMPLES / "templates" / "pod-crashlooping.yaml").read_text())
    doc["metadata"]["namespace"] = namespace
    return WorkflowTemplate.model_validate(doc)


async def _pod(kube: KubeClient, namespace: str) -> dict[str, Any]:
    async def one() -> dict[str, Any] | None:
        pods = ready_pods(await kube.list("Pod", namespace, label_selector="app=web"))
        return pods[0] if len(pods) == 2 else None

    pod: dict[str, Any] = await wait_for(one, what="2 ready pods")
    return pod


def _alert(namespace: str, pod: str) -> dict[str, Any]:
    return {
        "name": "KubePodCrashLooping",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": pod},
        "annotations": {},
    }


async def _versions(kube: KubeClient, namespace: str) -> dict[str, Any]:
    """What a write would have changed, per object (controllers bump resourceVersion on their own)."""
    objs = await kube.list("Deployment", namespace) + await kube.list("Pod", namespace)
    return {o["metadata"]["name"]: persisted(o) for o in objs}


async def test_plan_follows_live_state_and_changes_nothing(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    pod = await _pod(kube, namespace)
    registry = load_registry()
    before = await _versions(kube, namespace)

    plan = await simulate(
        template=_crashloop_template(namespace),
        alert=_alert(namespace, pod["metadata"]["name"]),
        registry=registry,
        kube=kube,
    )
    assert plan.target == f"Deployment/{namespace}/web"
    assert [c.split("/")[0] for c in plan.target_chain] == ["Pod", "ReplicaSet", "Deployment"]
    by_path = {s.path: s for s in plan.steps}
    assert "-> else: restart" in by_path["recently-changed"].detail  # revision 1: nothing to roll back to
    assert "rollback" not in by_path
    restart = by_path["restart"]
    assert restart.outcome == "would-run"
    assert restart.dry_run is not None
    assert restart.dry_run["message"].startswith("dry-run: would")
    assert restart.params == {"name": pod["metadata"]["name"], "namespace": namespace}
    assert by_path["wait-healthy"].params == {"timeout": "5m", "namespace": namespace, "name": "web"}
    assert plan.ends == "completes"
    assert await _versions(kube, namespace) == before

    # A second revision makes the other branch the live one.
    await kube.patch(
        "Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
        namespace,
        patch_type="strategic",
    )

    async def revision_two() -> bool:
        got = await kube.get("Deployment", "web", namespace)
        return got["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision") == "2"

    await wait_for(revision_two, what="revision 2")
    pod = await _pod(kube, namespace)
    plan = await simulate(
        template=_crashloop_template(namespace),
        alert=_alert(namespace, pod["metadata"]["name"]),
        registry=registry,
        kube=kube,
    )
    by_path = {s.path: s for s in plan.steps}
    assert "-> then: ask" in by_path["recently-changed"].detail
    assert by_path["ask"].outcome == "would-ask"
    rollback = by_path["rollback"]
    assert rollback.outcome == "would-run", rollback
    assert rollback.dry_run is not None
    assert "restart" not in by_path


async def _second_revision(kube: KubeClient, namespace: str) -> None:
    await kube.patch(
        "Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
        namespace,
        patch_type="strategic",
    )

    async def revision_two_rolled_out() -> bool:
        got = await kube.get("Deployment", "web", namespace)
        status = got.get("status") or {}
        return (
            got["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision") == "2"
            and status.get("updatedReplicas") == status.get("readyReplicas") == status.get("replicas") == 2
        )

    await wait_for(revision_two_rolled_out, timeout=60, what="revision 2 rolled out")


async def test_simulated_path_is_the_path_a_real_run_takes(kube: KubeClient, namespace: str, tmp_path: Path) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    await _pod(kube, namespace)
    await _second_revision(kube, namespace)
    pod = await _pod(kube, namespace)
    template = _crashloop_template(namespace)
    alert = _alert(namespace, pod["metadata"]["name"])
    registry = load_registry()

    plan = await simulate(template=template, alert=alert, registry=registry, kube=kube)
    simulated = [s.path for s in plan.steps]
    assert plan.ends == "completes"

    assert template.spec.target is not None
    target = await resolve_target(template.spec.target, alert=alert, kube=kube, confine_to=namespace)
    sink = RecordingSink()
    async with open_checkpointer(location=str(tmp_path / "runs.sqlite")) as saver:
        engine = Engine(registry=registry, kube=kube, checkpointer=saver, sink=sink)
        request = RunRequest(
            run_id=f"{namespace}-real",
            template=template.spec,
            alert=alert,
            target=target.object,
            namespace=namespace,
        )
        waiting = await engine.start(request=request)
        assert waiting.phase == "WaitingApproval", waiting.message
        out = await engine.approve(run_id=f"{namespace}-real", decision="Approved", by="tester")
        await engine.aclose()
    assert out.phase == "Succeeded", out.message
    real = list(dict.fromkeys(progress.name for _, progress in sink.steps))
    assert simulated == real == ["collect", "recently-changed", "ask", "rollback", "wait-healthy"]


async def test_cli_prints_the_plan(
    kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    pod = await _pod(kube, namespace)
    template = tmp_path / "t.yaml"
    template.write_text(yaml.safe_dump(_crashloop_template(namespace).model_dump(mode="json", exclude_none=True)))
    alert = tmp_path / "a.json"
    alert.write_text(json.dumps({"alerts": [{"labels": _alert(namespace, pod["metadata"]["name"])["labels"]}]}))
    args = ["simulate", "--template", str(template), "--alert", str(alert), "--kubeconfig", kubeconfig]
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    assert f"target:   Deployment/{namespace}/web  (via Pod/" in out
    assert "server-side dry-run against the cluster; nothing was changed" in out
    assert "restart           action     would-run  restart_pod: dry-run: would" in out
    assert await asyncio.to_thread(main, [*args, "--output", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["ends"] == "completes"


async def test_failing_read_only_check_is_reported_not_fatal(kube: KubeClient, namespace: str) -> None:
    # Pods that can never be scheduled, and a 1-second progress deadline: the rollout is stuck.
    stuck = deployment("web", 2, nodeSelector={"suture.dev/nowhere": "true"})
    stuck["spec"]["progressDeadlineSeconds"] = 1
    await kube.create("Deployment", stuck, namespace)

    async def deadline_exceeded() -> bool:
        conditions = (await kube.get("Deployment", "web", namespace)).get("status", {}).get("conditions") or []
        return any(c.get("reason") == "ProgressDeadlineExceeded" for c in conditions)

    await wait_for(deadline_exceeded, timeout=60, what="ProgressDeadlineExceeded")
    template = WorkflowTemplate.model_validate(
        {
            "apiVersion": "suture.dev/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "check-then-scale", "namespace": namespace},
            "spec": {
                "target": {"kind": "Deployment", "name": "web"},
                "steps": [
                    {"name": "healthy", "action": {"name": "wait_for_rollout", "params": {"timeout": "5m"}}},
                    {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 1}}},
                ],
            },
        }
    )
    async with asyncio.timeout(30):  # a simulation never waits out a step's timeout
        plan = await simulate(template=template, alert={"labels": {}}, registry=load_registry(), kube=kube)
    by_path = {s.path: s for s in plan.steps}
    assert by_path["healthy"].outcome == "checks-now"
    assert by_path["healthy"].detail.startswith("wait_for_rollout: now: Deployment")
    assert "progress deadline" in by_path["healthy"].detail
    assert by_path["scale"].outcome == "would-run"
    assert plan.ends == "completes"
