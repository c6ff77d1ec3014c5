"""The escape hatch: run a Job from a pod template and wait for it."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

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
from suture_actions._common import NamespacedTarget, check_namespace, would

MANAGED_BY = {"app.kubernetes.io/managed-by": "suture"}
REMEDIATION_ANNOTATION = "suture.dev/remediation"
_HASH_LEN = 10
# A Job's name is also the value of its pods' job-name label: at most 63 characters.
_PREFIX_MAX = 63 - 1 - _HASH_LEN


def owner_references(ctx: ActionContext, namespace: str) -> list[dict[str, Any]]:
    """ctx.owner as an ownerReferences list, when it may own an object in ``namespace``.

    Kubernetes has no cross-namespace ownership: the garbage collector treats a
    reference to an owner in another namespace as an absent owner and deletes
    the dependent. So the Remediation owns what it creates only in its own
    namespace (the one in ``ctx.remediation``); elsewhere the object carries no
    owner and is cleaned up by its own means (a Job's TTL).
    """
    if ctx.owner is None or ctx.remediation.partition("/")[0] != namespace:
        return []
    return [dict(ctx.owner)]


class RunJobParams(NamespacedTarget):
    """A pod template to run to completion as a Job."""

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=_PREFIX_MAX,
        description="Prefix of the Job's name; a hash of the idempotency key (or run) and template is appended.",
    )
    template: dict[str, Any] = Field(description="A PodTemplateSpec: {metadata?, spec} with at least one container.")
    backoff_limit: int = Field(default=0, ge=0, le=10, description="Retries of a failed pod before the Job fails.")
    timeout: Duration = Field(default="10m", description="How long to wait for the Job to finish.")
    ttl_seconds_after_finished: int = Field(
        default=3600, ge=0, le=7 * 86400, description="Seconds after it finishes before Kubernetes deletes the Job."
    )
    idempotency_key: str | None = Field(
        default=None,
        max_length=253,
        description="Runs with the same key and template share one Job; defaults to the engine's key for this "
        "step of this run (or the Remediation's name when called by hand).",
    )
    host_access: bool = Field(
        default=False,
        description="ClusterWorkflowTemplates only: allow privileged containers, host namespaces, hostPath "
        "volumes and a ServiceAccount other than the namespace's default.",
    )

    @field_validator("template")
    @classmethod
    def _pod_template(cls, value: dict[str, Any]) -> dict[str, Any]:
        extra = set(value) - {"metadata", "spec"}
        if extra:
            raise ValueError(f"a PodTemplateSpec has only metadata and spec, not {', '.join(sorted(extra))}")
        spec = value.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
            raise ValueError("spec.containers must list at least one container")
        return value


def pod_policy_problems(spec: Mapping[str, Any]) -> list[str]:
    """What in a pod spec reaches beyond an ordinary pod of its namespace (empty when nothing does)."""
    problems = [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account and account != "default":
        problems.append(f"serviceAccountName: {account}")
    problems += [f"volume {v.get('name')!r} is a hostPath" for v in spec.get("volumes") or [] if "hostPath" in v]
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        security = container.get("securityContext") or {}
        if security.get("privileged"):
            problems.append(f"container {container.get('name')!r} is privileged")
        if security.get("allowPrivilegeEscalation"):
            problems.append(f"container {container.get('name')!r} allows privilege escalation")
        added = (security.get("capabilities") or {}).get("add") or []
        if added:
            problems.append(f"container {container.get('name')!r} adds capabilities {', '.join(map(str, added))}")
    return problems


def job_name(prefix: str, key: str, template: Mapping[str, Any]) -> str:
    """``prefix-<hash>``: the same key and template always name the same Job."""
    digest = hashlib.sha256(json.dumps({"key": key, "template": template}, sort_keys=True).encode()).hexdigest()
    return f"{prefix}-{digest[:_HASH_LEN]}"


def _condition(job: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in job.get("status", {}).get("conditions", []):
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


@action(
    name="run_job",
    family="jobs",
    params=RunJobParams,
    # High: the container runs whatever the template says, with whatever its service account may do.
    risk=Risk.HIGH,
    rbac=(RbacRule("batch", ("jobs",), ("get", "create")),),
)
async def run_job(ctx: ActionContext, params: RunJobParams) -> ActionResult:
    """Run a pod template to completion as a Job and wait until it completes or fails.

    This is the way to run failover, backup or clean-up scripts that need a
    container. The Job's name is the prefix plus a hash of the idempotency key
    (by default the Remediation's name) and the template, so a resumed or
    repeated run finds and waits for the Job it already started instead of
    starting a second one; a finished Job is reported again, until its TTL
    deletes it. Run by hand with neither key nor Remediation, the template
    alone names the Job. A timeout leaves the Job running, so a retry waits for the same
    Job. There is no undo: what a script did cannot be known, let alone
    reversed; write a second Job for that.
    """
    act = "run_job"
    check_namespace(ctx, params.namespace, act)
    if params.host_access and ctx.allowed_namespace is not None:
        raise ActionError(
            "hostAccess is for ClusterWorkflowTemplates only: a namespaced template runs ordinary pods",
            category=ErrorCategory.FORBIDDEN,
            action=act,
        )
    if not params.host_access and (problems := pod_policy_problems(params.template["spec"])):
        raise ActionError(
            f"the pod template reaches beyond its namespace ({'; '.join(problems)}); "
            "only a ClusterWorkflowTemplate may allow that, with hostAccess: true",
            category=ErrorCategory.FORBIDDEN,
            action=act,
        )
    key = params.idempotency_key or ctx.idempotency_key or ctx.remediation
    name = job_name(params.name, key, params.template)
    where = f"Job {params.namespace}/{name}"
    output: dict[str, Any] = {"namespace": params.namespace, "job": name}

    job = await ctx.kube.get_or_none("Job", name, params.namespace)
    created = False
    if job is None:
        template = copy.deepcopy(params.template)
        # Jobs accept only Never or OnFailure; Never keeps every attempt's pod for its logs.
        template["spec"].setdefault("restartPolicy", "Never")
        metadata: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
        if ctx.remediation:
            metadata["annotations"] = {REMEDIATION_ANNOTATION: ctx.remediation}
        if refs := owner_references(ctx, params.namespace):
            metadata["ownerReferences"] = refs
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {
                "backoffLimit": params.backoff_limit,
                "ttlSecondsAfterFinished": params.ttl_seconds_after_finished,
                "template": template,
            },
        }
        try:
            job = await ctx.kube.create("Job", body, params.namespace, dry_run=ctx.dry_run)
            created = not ctx.dry_run
        except ApiError as exc:
            if not exc.conflict:
                raise
            # Another runner of the same step created it between our read and write: share it.
            job = await ctx.kube.get("Job", name, params.namespace)
        if ctx.dry_run:
            return ActionResult(
                changed=False, message=would(ctx, f"create {where} and wait for it"), output={**output, "reused": False}
            )
    elif ctx.dry_run:
        return ActionResult(
            changed=False,
            message=would(ctx, f"wait for the existing {where}"),
            output={**output, "reused": True},
        )

    timeout = parse_duration(params.timeout)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        status = job.get("status", {})
        counts = {"succeeded": int(status.get("succeeded") or 0), "failed": int(status.get("failed") or 0)}
        result = {**output, **counts, "reused": not created, "waitedSeconds": round(loop.time() - started, 3)}
        if _condition(job, "Complete"):
            verb = "ran" if created else "found finished"
            return ActionResult(
                changed=created, message=f"{verb} {where}: {counts['succeeded']} pod(s) succeeded", output=result
            )
        failed = _condition(job, "Failed")
        if failed:
            raise ActionError(
                f"{where} failed ({failed.get('reason', '')}: {failed.get('message', '')}); "
                f"{counts['failed']} pod(s) failed, {counts['succeeded']} succeeded",
                category=ErrorCategory.FAILED,
            )
        waited = loop.time() - started
        if waited >= timeout:
            raise ActionError(
                f"{where} did not finish within {format_duration(timeout)} ({status.get('active', 0)} pod(s) active, "
                f"{counts['failed']} failed); it is left running and a retry waits for it",
                category=ErrorCategory.TIMEOUT,
            )
        await asyncio.sleep(min(ctx.poll_interval, max(timeout - waited, 0.0)))
        job = await ctx.kube.get_or_none("Job", name, params.namespace)
        if job is None:
            raise ActionError(f"{where} was deleted while it was awaited", category=ErrorCategory.FAILED)


ACTIONS: list[ActionSpec[Any]] = [run_job]
