"""Heap dumps (or any diagnostic command) through an ephemeral debug container in a running pod."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ApiError,
    Duration,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
    format_duration,
    parse_duration,
)
from suture_actions._common import NamespacedTarget, check_namespace, get_required, retry_on_conflict, would
from suture_actions.jobs import MANAGED_BY, REMEDIATION_ANNOTATION, owner_references

OUTPUT_KEY = "output.txt"
MAX_OUTPUT = 512 * 1024  # a ConfigMap holds at most 1 MiB


class HeapDumpParams(NamespacedTarget):
    """The pod (``name``), the container to attach to, and the command to run next to it."""

    container: str | None = Field(default=None, max_length=63, description="Target container; default: the first.")
    command: list[str] = Field(
        default_factory=lambda: ["jcmd", "1", "GC.heap_dump", "/tmp/heap.hprof"],
        min_length=1,
        max_length=64,
        description="The debug container's argv (run as given, no shell), e.g. jcmd 1 GC.heap_dump /tmp/heap.hprof.",
    )
    image: str = Field(
        default="eclipse-temurin:21-jdk", min_length=1, max_length=512, description="Image holding the tool."
    )
    wait: Duration = Field(
        default="2m", description="How long to wait for the command to finish; 0s: create it and report its state."
    )


def debug_container_name(key: str, params: HeapDumpParams) -> str:
    """``suture-debug-<hash>``: a replay of the step finds the container it added (they can never be removed)."""
    text = "\n".join([key, params.container or "", params.image, *params.command])
    return f"suture-debug-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _status(pod: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for status in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return None


def _state(status: Mapping[str, Any] | None) -> str:
    if status is None:
        return "no status reported: no kubelet has started it"
    state = status.get("state") or {}
    if "terminated" in state:
        return f"terminated with exit code {state['terminated'].get('exitCode')}"
    if "running" in state:
        return "running"
    return f"waiting ({(state.get('waiting') or {}).get('reason', 'unknown')})"


async def _store(ctx: ActionContext, namespace: str, pod: str, name: str, text: str) -> str:
    """The command's output in its own ConfigMap next to the diagnostics bundles; returns its name."""
    cm = f"suture-debug-{hashlib.sha256(f'{namespace}/{pod}/{name}'.encode()).hexdigest()[:10]}"
    metadata: dict[str, Any] = {
        "name": cm,
        "labels": dict(MANAGED_BY),
        "annotations": {"suture.dev/target": f"Pod {namespace}/{pod}", "suture.dev/container": name},
    }
    if ctx.remediation:
        metadata["annotations"][REMEDIATION_ANNOTATION] = ctx.remediation
    if refs := owner_references(ctx, namespace):
        metadata["ownerReferences"] = refs
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {OUTPUT_KEY: text[-MAX_OUTPUT:]}}
    try:
        await ctx.kube.create("ConfigMap", body, namespace)
    except ApiError as exc:
        if not exc.conflict:  # stored by an earlier attempt of this call: the same output
            raise
    return cm


@action(
    name="create_heap_dump",
    family="diagnostics",
    params=HeapDumpParams,
    # High: the command runs inside the pod's process namespace with the target container's view.
    risk=Risk.HIGH,
    rbac=(
        RbacRule("", ("pods",), ("get",)),
        RbacRule("", ("pods/ephemeralcontainers",), ("patch",)),
        RbacRule("", ("pods/log",), ("get",)),
        RbacRule("", ("configmaps",), ("create",)),
    ),
)
async def create_heap_dump(ctx: ActionContext, params: HeapDumpParams) -> ActionResult:
    """Run a command (by default a JVM heap dump) in an ephemeral debug container attached to a pod's container.

    The container is added through the ``pods/ephemeralcontainers``
    subresource with ``targetContainerName``, so it shares the target's
    process namespace; its argv is passed as given, never through a shell.
    Its name derives from the engine's idempotency key, so a replay finds the
    container it added instead of adding another (ephemeral containers can
    never be removed from a pod). When the command terminates within
    ``wait``, its log is stored in a ConfigMap ``suture-debug-<hash>`` beside
    the diagnostics; otherwise the step fails with the state the kubelet
    reported, or says that none did (a node without a kubelet, such as
    kwok's). With ``wait: 0s`` it reports the state and returns. No undo.
    """
    act = "create_heap_dump"
    check_namespace(ctx, params.namespace, act)
    where = f"Pod {params.namespace}/{params.name}"
    name = debug_container_name(ctx.idempotency_key or ctx.remediation, params)

    async def attach() -> tuple[dict[str, Any], bool, str]:
        pod = await get_required(ctx, "Pod", params.name, params.namespace, act)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        target = params.container or containers[0]
        if target not in containers:
            raise ActionError(f"{where} has no container {target!r}", category=ErrorCategory.INVALID, action=act)
        existing = pod["spec"].get("ephemeralContainers") or []
        if any(c.get("name") == name for c in existing):
            return pod, False, target
        container = {
            "name": name,
            "image": params.image,
            "command": list(params.command),
            "targetContainerName": target,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
        # The list read plus one container, guarded by its resourceVersion: a concurrent writer gives 409.
        body = {
            "metadata": {"resourceVersion": pod["metadata"]["resourceVersion"]},
            "spec": {"ephemeralContainers": [*existing, container]},
        }
        pod = await ctx.kube.patch(
            "Pod", params.name, body, params.namespace, dry_run=ctx.dry_run, subresource="ephemeralcontainers"
        )
        return pod, True, target

    pod, added, target = await retry_on_conflict(attach)
    output: dict[str, Any] = {
        "namespace": params.namespace,
        "pod": params.name,
        "target": target,
        "container": name,
        "command": list(params.command),
        "added": added and not ctx.dry_run,
    }
    if ctx.dry_run:
        return ActionResult(
            changed=False,
            message=would(ctx, f"add debug container {name} to {where} next to {target}, running {params.command}"),
            output=output,
        )
    timeout = parse_duration(params.wait)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        status = _status(pod, name)
        output["state"] = _state(status)
        terminated = ((status or {}).get("state") or {}).get("terminated")
        if terminated is not None:
            break
        if timeout <= 0:
            verb = "added" if added else "found"
            return ActionResult(
                changed=True, message=f"{verb} debug container {name} in {where}: {output['state']}", output=output
            )
        if loop.time() - started >= timeout:
            raise ActionError(
                f"debug container {name} in {where} did not finish within {format_duration(timeout)}: "
                f"{output['state']}; a retry waits for the same container",
                category=ErrorCategory.TIMEOUT,
                action=act,
            )
        await asyncio.sleep(ctx.poll_interval)
        pod = await get_required(ctx, "Pod", params.name, params.namespace, act)
    output["exitCode"] = terminated.get("exitCode")
    try:
        text = await ctx.kube.pod_logs(params.name, params.namespace, container=name, tail_lines=100000)
    except ApiError as exc:
        text = f"(the log could not be read: {exc.status} {exc.message})\n{terminated.get('message') or ''}"
    output["configMap"] = await _store(ctx, params.namespace, params.name, name, text)
    if output["exitCode"] != 0:
        raise ActionError(
            f"debug container {name} in {where} exited with {output['exitCode']}; "
            f"its output is in ConfigMap {output['configMap']}",
            category=ErrorCategory.FAILED,
            action=act,
        )
    return ActionResult(
        changed=True,
        message=f"ran {params.command} beside {target} in {where}; output in ConfigMap {output['configMap']}",
        output=output,
    )


ACTIONS: list[ActionSpec[Any]] = [create_heap_dump]
