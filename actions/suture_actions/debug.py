"""Debug mode: a debug environment variable or log-level annotation on a workload, for a bounded time."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    Duration,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
    parse_duration,
)
from suture_actions._common import NamespacedTarget, check_namespace, get_required, original, retry_on_conflict, would

DEBUG_UNTIL = "suture.dev/debug-until"
MAX_HOLD = 24 * 3600
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class EnableDebugModeParams(NamespacedTarget):
    """A workload and the debug settings to give it."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = Field(default="Deployment", description="Workload kind.")
    container: str | None = Field(default=None, max_length=63, description="Container for env; default: the first.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables to set, e.g. LOG_LEVEL: debug."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Pod template annotations to set, e.g. sidecar.istio.io/logLevel: debug."
    )
    duration: Duration = Field(
        default="5m",
        description="How long debug mode stays on (at most 24h). With hold, give the step a longer timeout "
        "(the default step timeout is 10m).",
    )
    hold: bool = Field(
        default=True,
        description="Keep the step running for the duration and restore afterwards; false: leave it on until undo.",
    )

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.fullmatch(_ENV_NAME, k)]
        if bad:
            raise ValueError(f"not environment variable names: {', '.join(sorted(bad))}")
        return value

    @model_validator(mode="after")
    def _something(self) -> EnableDebugModeParams:
        if not self.env and not self.annotations:
            raise ValueError("give env or annotations (or both)")
        if not 0 < parse_duration(self.duration) <= MAX_HOLD:
            raise ValueError("duration must be more than 0s and at most 24h")
        return self


def _container_index(template: Mapping[str, Any], name: str | None, where: str, act: str) -> int:
    containers = (template.get("spec") or {}).get("containers") or []
    for i, c in enumerate(containers):
        if name is None or c.get("name") == name:
            return i
    raise ActionError(f"{where} has no container {name!r}", category=ErrorCategory.INVALID, action=act)


async def _apply(
    ctx: ActionContext,
    kind: str,
    namespace: str,
    name: str,
    container: str | None,
    env: Mapping[str, Any],
    annotations: Mapping[str, str | None],
    act: str,
) -> dict[str, Any]:
    """Make the workload hold exactly these env entries (None removes) and annotations; returns the prior state."""
    where = f"{kind} {namespace}/{name}"

    async def attempt() -> dict[str, Any]:
        obj = await get_required(ctx, kind, name, namespace, act)
        template = obj["spec"]["template"]
        index = _container_index(template, container, where, act)
        current = list(template["spec"]["containers"][index].get("env") or [])
        by_name = {e.get("name"): e for e in current}
        prior_env = {k: by_name.get(k) for k in env}
        prior_annotations = {k: ((template.get("metadata") or {}).get("annotations") or {}).get(k) for k in annotations}
        # Untouched entries keep their order; a replaced entry keeps its place; new ones go last.
        ordered = [env.get(e.get("name"), e) if e.get("name") in env else e for e in current]
        ordered = [e for e in ordered if e is not None]
        ordered += [entry for key, entry in sorted(env.items()) if entry is not None and key not in by_name]
        meta = dict((template.get("metadata") or {}).get("annotations") or {})
        new_meta = {k: v for k, v in {**meta, **annotations}.items() if v is not None}
        spec: dict[str, Any] = {}
        if env and ordered != current:
            # A merge patch replaces the whole containers list: the one read, with this container's env changed.
            # No entries left: the env list is dropped, as the container was before debug mode added one.
            containers = copy.deepcopy(template["spec"]["containers"])
            containers[index].pop("env", None)
            if ordered:
                containers[index]["env"] = ordered
            spec["spec"] = {"containers": containers}
        if annotations and new_meta != meta:
            spec["metadata"] = {
                "annotations": {k: annotations[k] for k in annotations if meta.get(k) != annotations[k]}
            }
        if spec:
            # resourceVersion makes it a compare-and-swap on what was read: a concurrent writer gives 409.
            body = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "spec": {"template": spec}}
            await ctx.kube.patch(kind, name, body, namespace, dry_run=ctx.dry_run)
        return {
            "env": prior_env,
            "annotations": prior_annotations,
            "container": template["spec"]["containers"][index]["name"],
        }

    return await retry_on_conflict(attempt)


async def _undo(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    await _apply(
        ctx,
        data["kind"],
        data["namespace"],
        data["name"],
        data["container"],
        data["env"],
        data["annotations"],
        "undo enable_debug_mode",
    )
    where = f"{data['kind']} {data['namespace']}/{data['name']}"
    return ActionResult(changed=not ctx.dry_run, message=would(ctx, f"restore the debug settings of {where}"))


@action(
    name="enable_debug_mode",
    family="diagnostics",
    params=EnableDebugModeParams,
    # High: changing the pod template rolls the workload's pods.
    risk=Risk.HIGH,
    rbac=(RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("get", "patch")),),
    undo=_undo,
    undo_description="puts back the environment variables and annotations exactly as they were",
)
async def enable_debug_mode(ctx: ActionContext, params: EnableDebugModeParams) -> ActionResult:
    """Set debug environment variables or log-level annotations on a workload's pod template for a bounded time.

    The change rolls the pods (a pod template change). The workload also gets
    the annotation ``suture.dev/debug-until`` with the deadline. With ``hold``
    (the default) the step stays running until the deadline and then puts the
    previous values back itself; without it, debug mode stays on until the
    run's rollback or a later undo. The values before the step's first attempt
    are recorded first, so a replay restores the original settings, never its
    own. The patch is a merge patch guarded by the resourceVersion it read.
    A held step needs a step timeout longer than the duration; if it is cut
    short, its retry sleeps only what is left and then restores, and a
    rollback restores at once.
    """
    act = "enable_debug_mode"
    check_namespace(ctx, params.namespace, act)
    where = f"{params.kind} {params.namespace}/{params.name}"
    started = await original(ctx, "started", datetime.now(UTC).isoformat())
    until = datetime.fromisoformat(started) + timedelta(seconds=parse_duration(params.duration))
    env = {k: {"name": k, "value": v} for k, v in params.env.items()}
    annotations: dict[str, str | None] = {**params.annotations, DEBUG_UNTIL: until.strftime("%Y-%m-%dT%H:%M:%SZ")}
    obj = await get_required(ctx, params.kind, params.name, params.namespace, act)
    template = obj["spec"]["template"]
    index = _container_index(template, params.container, where, act)
    container = template["spec"]["containers"][index]["name"]
    current_env = {e.get("name"): e for e in template["spec"]["containers"][index].get("env") or []}
    current_ann = (template.get("metadata") or {}).get("annotations") or {}
    prior = await original(
        ctx,
        "prior",
        {"env": {k: current_env.get(k) for k in env}, "annotations": {k: current_ann.get(k) for k in annotations}},
    )
    undo = {"kind": params.kind, "namespace": params.namespace, "name": params.name, "container": container, **prior}
    await ctx.intend(undo)
    await _apply(ctx, params.kind, params.namespace, params.name, container, env, annotations, act)
    settings = ", ".join(
        [f"{k}={v}" for k, v in sorted(params.env.items())]
        + [f"{k}={v}" for k, v in sorted(params.annotations.items())]
    )
    output = {
        "kind": params.kind,
        "namespace": params.namespace,
        "name": params.name,
        "container": container,
        "until": annotations[DEBUG_UNTIL],
        "settings": settings,
        "held": False,
    }
    if ctx.dry_run:
        return ActionResult(
            changed=False, message=would(ctx, f"set {settings} on {where} until {output['until']}"), output=output
        )
    if not params.hold:
        return ActionResult(
            changed=True, message=f"set {settings} on {where} until {output['until']}", output=output, undo=undo
        )
    remaining = (until - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        await asyncio.sleep(remaining)
    await _undo(ctx, undo)
    output["held"] = True
    return ActionResult(
        changed=True,
        message=f"held {settings} on {where} until {output['until']}, then restored the previous settings",
        output=output,
        undo=undo,
    )


ACTIONS: list[ActionSpec[Any]] = [enable_debug_mode]
