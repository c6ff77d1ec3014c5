"""Verification: wait for a rollout, read an object."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    Duration,
    ErrorCategory,
    InvalidReference,
    RbacRule,
    Risk,
    UnknownKind,
    action,
    format_duration,
    parse_duration,
)
from suture_actions._common import NAME_PATTERN, NamespacedTarget, check_namespace, get_required, refuse_secrets

# -- wait_for_rollout --------------------------------------------------------------


class RolloutParams(NamespacedTarget):
    """A workload whose rollout to wait for."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = Field(
        default="Deployment", description="Kind of the workload."
    )
    timeout: Duration = Field(default="5m", description="How long to wait before failing with a timeout.")


class _Progress:
    """One look at a rollout: finished or not, why, and the counts."""

    def __init__(self, done: bool, message: str, counts: dict[str, Any]) -> None:
        self.done = done
        self.message = message
        self.counts = counts


def _int(status: Mapping[str, Any], key: str) -> int:
    return int(status.get(key) or 0)


def _replica_counts(obj: Mapping[str, Any]) -> dict[str, int]:
    """Desired and observed replica counts of a Deployment or StatefulSet (same status fields)."""
    status = obj.get("status", {})
    return {
        "desired": int(obj.get("spec", {}).get("replicas", 1)),
        "current": _int(status, "replicas"),
        "updated": _int(status, "updatedReplicas"),
        "ready": _int(status, "readyReplicas"),
        "available": _int(status, "availableReplicas"),
    }


def _deployment(obj: Mapping[str, Any], where: str) -> _Progress:
    status = obj.get("status", {})
    counts = _replica_counts(obj)
    desired = counts["desired"]
    if int(obj["metadata"].get("generation", 0)) > _int(status, "observedGeneration"):
        return _Progress(False, "waiting for the controller to observe the latest spec", counts)
    for cond in status.get("conditions", []):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise ActionError(
                f"{where} exceeded its progress deadline: {cond.get('message', '')} "
                f"({counts['updated']}/{desired} updated, {counts['available']} available)",
                category=ErrorCategory.FAILED,
            )
    # The same order of checks as `kubectl rollout status`.
    if counts["updated"] < desired:
        return _Progress(False, f"{counts['updated']} of {desired} replicas updated", counts)
    if counts["current"] > counts["updated"]:
        return _Progress(False, f"{counts['current'] - counts['updated']} old replicas pending termination", counts)
    if counts["available"] < counts["updated"]:
        return _Progress(False, f"{counts['available']} of {counts['updated']} updated replicas available", counts)
    return _Progress(True, f"{desired} of {desired} replicas updated and available", counts)


def _rolling_update_only(obj: Mapping[str, Any], where: str) -> None:
    strategy = obj.get("spec", {}).get("updateStrategy", {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        # OnDelete rollouts only progress when someone deletes pods: there is nothing to wait for.
        raise ActionError(
            f"{where} uses the {strategy} update strategy; rollout status exists only for RollingUpdate",
            category=ErrorCategory.INVALID,
        )


def _statefulset(obj: Mapping[str, Any], where: str) -> _Progress:
    _rolling_update_only(obj, where)
    status = obj.get("status", {})
    counts = _replica_counts(obj)
    desired = counts["desired"]
    observed = _int(status, "observedGeneration")
    if observed == 0 or int(obj["metadata"].get("generation", 0)) > observed:
        return _Progress(False, "waiting for the controller to observe the latest spec", counts)
    if counts["ready"] < desired:
        return _Progress(False, f"{counts['ready']} of {desired} pods ready", counts)
    if counts["available"] < desired:
        return _Progress(False, f"{counts['available']} of {desired} pods available", counts)
    partition = obj.get("spec", {}).get("updateStrategy", {}).get("rollingUpdate", {}).get("partition")
    if partition is not None:
        # Only the ordinals at or above the partition are updated.
        if counts["updated"] < desired - int(partition):
            return _Progress(False, f"{counts['updated']} of {desired - int(partition)} pods updated", counts)
        return _Progress(True, f"partitioned rollout complete: {counts['updated']} pods updated", counts)
    if status.get("updateRevision") != status.get("currentRevision"):
        return _Progress(False, f"{counts['updated']} of {desired} pods at the new revision", counts)
    return _Progress(True, f"{desired} of {desired} pods updated and ready", counts)


def _daemonset(obj: Mapping[str, Any], where: str) -> _Progress:
    _rolling_update_only(obj, where)
    status = obj.get("status", {})
    desired = _int(status, "desiredNumberScheduled")
    counts = {
        "desired": desired,
        "current": _int(status, "currentNumberScheduled"),
        "updated": _int(status, "updatedNumberScheduled"),
        "ready": _int(status, "numberReady"),
        "available": _int(status, "numberAvailable"),
    }
    if int(obj["metadata"].get("generation", 0)) > _int(status, "observedGeneration"):
        return _Progress(False, "waiting for the controller to observe the latest spec", counts)
    if counts["updated"] < desired:
        return _Progress(False, f"{counts['updated']} of {desired} pods updated", counts)
    if counts["available"] < desired:
        return _Progress(False, f"{counts['available']} of {desired} updated pods available", counts)
    return _Progress(True, f"{desired} of {desired} pods updated and available", counts)


_CHECKS = {"Deployment": _deployment, "StatefulSet": _statefulset, "DaemonSet": _daemonset}


@action(
    name="wait_for_rollout",
    family="readiness",
    params=RolloutParams,
    risk=Risk.READ_ONLY,
    rbac=(RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("get",)),),
)
async def wait_for_rollout(ctx: ActionContext, params: RolloutParams) -> ActionResult:
    """Wait until a Deployment, StatefulSet or DaemonSet has finished rolling out, by kubectl rollout status rules.

    Finished means the controller has observed the latest generation and the
    updated, ready and available counts have reached the desired count. A
    Deployment that reports ProgressDeadlineExceeded fails at once; running out
    of time fails with a timeout naming the counts. Under dry-run it looks once
    and reports, without waiting.
    """
    act = "wait_for_rollout"
    check_namespace(ctx, params.namespace, act)
    where = f"{params.kind} {params.namespace}/{params.name}"
    timeout = parse_duration(params.timeout)
    loop = asyncio.get_running_loop()
    started = loop.time()
    check = _CHECKS[params.kind]
    while True:
        obj = await get_required(ctx, params.kind, params.name, params.namespace, act)
        progress = check(obj, where)
        waited = loop.time() - started
        output = {
            "kind": params.kind,
            "namespace": params.namespace,
            "name": params.name,
            "generation": int(obj["metadata"].get("generation", 0)),
            "observedGeneration": _int(obj.get("status", {}), "observedGeneration"),
            **progress.counts,
            "waitedSeconds": round(waited, 3),
        }
        if progress.done:
            return ActionResult(changed=False, message=f"{where} rolled out: {progress.message}", output=output)
        if ctx.dry_run:
            # A dry run changed nothing to wait for: report the state now instead of sleeping out the timeout.
            return ActionResult(
                changed=False,
                message=f"dry-run: {where} has not finished rolling out ({progress.message}); "
                f"a real run would wait up to {format_duration(timeout)}",
                output={**output, "done": False},
            )
        if waited >= timeout:
            c = progress.counts
            raise ActionError(
                f"{where} did not finish rolling out within {format_duration(timeout)}: {progress.message} "
                f"(desired {c['desired']}, updated {c['updated']}, ready {c['ready']}, available {c['available']})",
                category=ErrorCategory.TIMEOUT,
            )
        await asyncio.sleep(min(ctx.poll_interval, max(timeout - waited, 0.0)))


# -- get_resource ------------------------------------------------------------------

DEFAULT_FIELDS = ("metadata.name", "metadata.uid", "metadata.resourceVersion", "spec", "status")
# A path is dotted keys, with [N] for a list index and ["key"] for a key that
# itself holds dots, e.g. metadata.annotations["app.kubernetes.io/name"].
_SEGMENT = re.compile(r"""\.?([^.\[\]"']+)|\[(\d+)\]|\[["']([^"']+)["']\]""")


def _segments(path: str) -> list[str | int]:
    """Split a field path into keys and list indices; ValueError when it does not parse."""
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if not match or match.end() == pos or (pos == 0 and path.startswith(".")):
            raise ValueError(f"{path!r} is not a field path (example: status.conditions[0].type)")
        key, index, quoted = match.groups()
        out.append(int(index) if index is not None else (key if key is not None else quoted))
        pos = match.end()
    if not out:
        raise ValueError("an empty field path")
    return out


def _lookup(obj: Any, segments: list[str | int]) -> tuple[bool, Any]:
    """(found, value) of a path in an object."""
    for seg in segments:
        in_list = isinstance(seg, int) and isinstance(obj, list) and seg < len(obj)
        in_dict = isinstance(seg, str) and isinstance(obj, dict) and seg in obj
        if not (in_list or in_dict):
            return False, None
        obj = obj[seg]
    return True, obj


class GetResourceParams(ActionParams):
    """Any object but a Secret, and which of its fields to return."""

    kind: str = Field(min_length=1, description="Kind of the object, e.g. Deployment.")
    api_version: str | None = Field(default=None, description="apiVersion; needed only for kinds Suture does not know.")
    namespace: str | None = Field(
        default=None, pattern=NAME_PATTERN, max_length=63, description="Namespace; omit for cluster-scoped kinds."
    )
    name: str = Field(pattern=NAME_PATTERN, max_length=253, description="Name of the object.")
    fields: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Field paths to return, e.g. status.readyReplicas or status.conditions[0].type; "
        "empty returns metadata.name, metadata.uid, metadata.resourceVersion, spec and status.",
    )

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            _segments(path)
        return value


@action(
    name="get_resource",
    family="readiness",
    params=GetResourceParams,
    risk=Risk.READ_ONLY,
    rbac=(
        RbacRule(
            "",
            ("pods", "services", "persistentvolumeclaims", "persistentvolumes", "configmaps", "nodes", "namespaces"),
            ("get",),
        ),
        RbacRule("apps", ("deployments", "statefulsets", "daemonsets", "replicasets"), ("get",)),
        RbacRule("batch", ("jobs", "cronjobs"), ("get",)),
        RbacRule("autoscaling", ("horizontalpodautoscalers",), ("get",)),
        RbacRule("policy", ("poddisruptionbudgets",), ("get",)),
        RbacRule("networking.k8s.io", ("networkpolicies",), ("get",)),
        RbacRule("storage.k8s.io", ("storageclasses",), ("get",)),
    ),
)
async def get_resource(ctx: ActionContext, params: GetResourceParams) -> ActionResult:
    """Read fields of one object for later steps; Secrets are refused so their data never enters a run.

    The output's ``fields`` maps each requested path to its value (null when
    absent, and the path is listed in ``missing``); without ``fields`` it holds
    metadata.name, metadata.uid, metadata.resourceVersion, spec and status.
    """
    act = "get_resource"
    try:
        info = await ctx.kube.resolve(params.kind, params.api_version)  # discovery for kinds outside the table
    except (InvalidReference, UnknownKind) as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID) from None
    refuse_secrets(info, act)
    if info.namespaced and not params.namespace:
        raise ActionError(f"{params.kind} is namespaced: give its namespace", category=ErrorCategory.INVALID)
    namespace = params.namespace if info.namespaced else None
    check_namespace(ctx, namespace, act)
    obj = await get_required(ctx, params.kind, params.name, namespace, act, api_version=info.api_version)
    obj.get("metadata", {}).pop("managedFields", None)  # bookkeeping nobody asks for, and large
    fields: dict[str, Any] = {}
    missing: list[str] = []
    for path in params.fields or DEFAULT_FIELDS:
        found, value = _lookup(obj, _segments(path))
        fields[path] = value
        if not found:
            missing.append(path)
    where = f"{params.kind} {namespace}/{params.name}" if namespace else f"{params.kind} {params.name}"
    return ActionResult(
        changed=False,
        message=f"read {len(fields) - len(missing)} of {len(fields)} fields of {where}",
        output={
            "kind": params.kind,
            "apiVersion": info.api_version,
            "namespace": namespace,
            "name": params.name,
            "fields": fields,
            "missing": missing,
        },
    )


ACTIONS: list[ActionSpec[Any]] = [wait_for_rollout, get_resource]
