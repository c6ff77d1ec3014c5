"""Service mesh: roll the workloads whose pods carry a mesh sidecar, so they get fresh proxies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
)
from suture_actions._common import NAME_PATTERN, check_namespace, controller_of, original, would
from suture_actions.restarts import RestartWorkloadParams, restart_workload

# The proxy container each mesh injects (as a container, or a native sidecar init container).
SIDECARS = {"istio": "istio-proxy", "linkerd": "linkerd-proxy"}
MAX_WORKLOADS = 50


class ResetServiceMeshParams(ActionParams):
    """A namespace whose meshed workloads to roll."""

    namespace: str = Field(pattern=NAME_PATTERN, max_length=63, description="Namespace of the workloads.")
    mesh: Literal["auto", "istio", "linkerd"] = Field(
        default="auto", description="Which mesh's sidecar to look for; auto: either."
    )
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="restartedAt value; workloads already carrying it are not rolled again. Default: now.",
    )


def sidecar_of(pod: Mapping[str, Any], mesh: str) -> str | None:
    """The mesh ("istio", "linkerd") whose proxy the pod carries, or None."""
    spec = pod.get("spec") or {}
    names = {c.get("name") for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}
    for name, container in SIDECARS.items():
        if mesh in ("auto", name) and container in names:
            return name
    return None


async def _workload_of(ctx: ActionContext, pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the Deployment, StatefulSet or DaemonSet behind a pod; None for anything else."""
    ref = controller_of(pod)
    if ref is None:
        return None
    if ref.get("kind") in ("StatefulSet", "DaemonSet"):
        return str(ref["kind"]), str(ref["name"])
    if ref.get("kind") == "ReplicaSet":
        rs = await ctx.kube.get_or_none("ReplicaSet", ref["name"], pod["metadata"]["namespace"])
        owner = controller_of(rs) if rs else None
        if owner and owner.get("kind") == "Deployment":
            return "Deployment", str(owner["name"])
    return None


@action(
    name="reset_service_mesh",
    family="network",
    params=ResetServiceMeshParams,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("", ("pods",), ("list",)),
        RbacRule("apps", ("replicasets",), ("get",)),
        RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("get", "patch")),
    ),
)
async def reset_service_mesh(ctx: ActionContext, params: ResetServiceMeshParams) -> ActionResult:
    """Roll every Deployment, StatefulSet and DaemonSet of a namespace whose pods carry an Istio or Linkerd proxy.

    The mesh is detected from the pods themselves (an ``istio-proxy`` or
    ``linkerd-proxy`` container or native sidecar), not from namespace labels,
    so only workloads that really run a proxy are rolled, each as
    ``restart_workload`` does (the restartedAt annotation). The workloads and
    the stamp are recorded on the first attempt, so a replay rolls none twice.
    Pods without a workload controller are reported and left alone. No undo.
    """
    act = "reset_service_mesh"
    check_namespace(ctx, params.namespace, act)
    stamp = params.token or await original(ctx, "stamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    found: dict[str, dict[str, str]] = {}
    unmanaged: list[str] = []
    for pod in await ctx.kube.list("Pod", params.namespace):
        mesh = sidecar_of(pod, params.mesh)
        if mesh is None:
            continue
        workload = await _workload_of(ctx, pod)
        if workload is None:
            unmanaged.append(pod["metadata"]["name"])
            continue
        found[f"{workload[0]}/{workload[1]}"] = {"kind": workload[0], "name": workload[1], "mesh": mesh}
    if len(found) > MAX_WORKLOADS:
        raise ActionError(
            f"{len(found)} meshed workloads in {params.namespace}; more than {MAX_WORKLOADS} is refused as too wide",
            category=ErrorCategory.INVALID,
            action=act,
        )
    workloads: list[dict[str, str]] = await original(ctx, "workloads", [found[k] for k in sorted(found)])
    rolled: list[str] = []
    stamped: list[str] = []
    for w in workloads:
        sub = RestartWorkloadParams.model_validate(
            {"kind": w["kind"], "namespace": params.namespace, "name": w["name"], "token": stamp}
        )
        result = await restart_workload.run(ctx, sub)
        (rolled if result.changed or ctx.dry_run else stamped).append(f"{w['kind']}/{w['name']}")
    output = {
        "namespace": params.namespace,
        "restartedAt": stamp,
        "workloads": [f"{w['kind']}/{w['name']} ({w['mesh']})" for w in workloads],
        "rolled": rolled,
        "alreadyRestarted": stamped,
        "unmanagedPods": sorted(unmanaged),
    }
    if not workloads:
        return ActionResult(
            changed=False, message=f"no pod in {params.namespace} carries a mesh sidecar", output=output
        )
    # A replay of this call (same recorded stamp) finds its own stamps: still this call's change.
    replayed = bool(stamped) and params.token is None and bool(ctx.idempotency_key)
    listing = ", ".join(output["workloads"])
    return ActionResult(
        changed=(bool(rolled) or replayed) and not ctx.dry_run,
        message=would(ctx, f"roll {len(workloads)} meshed workload(s) in {params.namespace}: {listing}"),
        output=output,
    )


ACTIONS: list[ActionSpec[Any]] = [reset_service_mesh]
