"""Storage clean-up: a Job that mounts a claim and deletes old files matching a pattern."""

from __future__ import annotations

import posixpath
from typing import Any

from pydantic import Field, field_validator

from suture.actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ApiError,
    Duration,
    RbacRule,
    Risk,
    action,
    parse_duration,
)
from suture_actions._common import NamespacedTarget, check_namespace, get_required, would
from suture_actions.jobs import RunJobParams, run_job

MOUNT = "/suture-data"
MAX_LISTED = 200  # file names kept in the output; the Job's log has them all


class CleanupStorageParams(NamespacedTarget):
    """A claim (``name``) and which files on it to delete."""

    pattern: str = Field(
        min_length=1,
        max_length=255,
        description="File name glob as find -name reads it, e.g. '*.log'; matched against names, never paths.",
    )
    older_than: Duration = Field(default="24h", description="Only files last modified longer ago than this.")
    path: str = Field(
        default=".",
        max_length=1024,
        description="Directory inside the volume to search, relative to its root (no '..').",
    )
    list_only: bool = Field(
        default=False, description="Only list the matching files (the volume is mounted read-only)."
    )
    image: str = Field(default="busybox:1.36", min_length=1, max_length=512, description="Image providing find.")
    timeout: Duration = Field(default="10m", description="How long to wait for the Job.")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        # find -name never matches a '/', so a pattern holding one would silently match nothing.
        if "/" in value or "\x00" in value:
            raise ValueError("a pattern is a file name glob: no '/' and no NUL")
        if value.startswith("-"):
            raise ValueError("a pattern may not start with '-' (find would read it as an option)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        clean = posixpath.normpath(value)
        if clean.startswith("/") or clean == ".." or clean.startswith("../") or "\x00" in value:
            raise ValueError("path must stay inside the volume: relative, without '..'")
        return clean

    @field_validator("older_than")
    @classmethod
    def _age(cls, value: str) -> str:
        if parse_duration(value) < 60:
            raise ValueError("olderThan must be at least 1m (find counts whole minutes)")
        return value


def find_command(params: CleanupStorageParams) -> list[str]:
    """The container's argv: every user value is one argument of its own, never part of a shell string."""
    minutes = int(parse_duration(params.older_than) // 60)
    root = MOUNT if params.path == "." else f"{MOUNT}/{params.path}"
    argv = ["find", root, "-xdev", "-type", "f", "-name", params.pattern, "-mmin", f"+{minutes}", "-print"]
    return argv if params.list_only else [*argv, "-delete"]


def _pod_template(params: CleanupStorageParams) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app.kubernetes.io/name": "suture-cleanup-storage"}},
        "spec": {
            "containers": [
                {
                    "name": "cleanup",
                    "image": params.image,
                    "command": find_command(params),
                    "volumeMounts": [{"name": "data", "mountPath": MOUNT, "readOnly": params.list_only}],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": params.name}}],
        },
    }


async def _listed(ctx: ActionContext, namespace: str, job: str) -> dict[str, Any]:
    """The file names the Job's pods printed, or why they could not be read (a node without a kubelet, say)."""
    files: list[str] = []
    problems: list[str] = []
    try:
        pods = await ctx.kube.list("Pod", namespace, label_selector=f"job-name={job}")
    except ApiError as exc:
        return {"files": [], "logProblems": [f"listing the Job's pods: {exc.status} {exc.message}"[:300]]}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        try:
            text = await ctx.kube.pod_logs(pod["metadata"]["name"], namespace, container="cleanup", tail_lines=5000)
        except ApiError as exc:
            problems.append(f"log of {pod['metadata']['name']}: {exc.status} {exc.message}"[:300])
            continue
        files += [line for line in text.splitlines() if line.startswith(MOUNT)]
    return {"files": files[:MAX_LISTED], "fileCount": len(files), "logProblems": problems}


@action(
    name="cleanup_storage",
    family="storage",
    params=CleanupStorageParams,
    # Disruptive: deleted files are gone for good.
    risk=Risk.DISRUPTIVE,
    rbac=(
        RbacRule("", ("persistentvolumeclaims",), ("get",)),
        RbacRule("batch", ("jobs",), ("get", "create")),
        RbacRule("", ("pods",), ("list",)),
        RbacRule("", ("pods/log",), ("get",)),
    ),
)
async def cleanup_storage(ctx: ActionContext, params: CleanupStorageParams) -> ActionResult:
    """Run a Job that mounts a claim and deletes the files matching a name pattern and older than an age.

    The Job runs ``find ROOT -xdev -type f -name PATTERN -mmin +MINUTES -print
    -delete`` as an argument list: the pattern is one argv element, never
    spliced into a shell string. Under dry-run the Job is validated by the
    API server but not created, and the output carries the exact command;
    ``listOnly`` runs the same search without ``-delete`` on a read-only mount
    and returns the names it printed. The Job is named after the engine's
    idempotency key, so a replayed step waits for the Job it started. The
    claim must be mountable by a new pod (ReadWriteMany, or on the node of its
    current user). No undo: deleted files cannot be restored; take a
    ``backup_data`` snapshot first.
    """
    act = "cleanup_storage"
    check_namespace(ctx, params.namespace, act)
    await get_required(ctx, "PersistentVolumeClaim", params.name, params.namespace, act)
    argv = find_command(params)
    job_params = RunJobParams(
        namespace=params.namespace,
        name="suture-cleanup",
        template=_pod_template(params),
        timeout=params.timeout,
        idempotency_key=f"{ctx.idempotency_key or ctx.remediation}/{params.name}"[:253],
    )
    job = await run_job.run(ctx, job_params)
    what = f"files named {params.pattern!r} older than {params.older_than} under {params.path!r} of claim {params.name}"
    output: dict[str, Any] = {
        "namespace": params.namespace,
        "claim": params.name,
        "job": job.output["job"],
        "command": argv,
        "listOnly": params.list_only,
    }
    if ctx.dry_run:
        verb = "list" if params.list_only else "delete"
        return ActionResult(changed=False, message=would(ctx, f"{verb} {what} with Job command {argv}"), output=output)
    output.update(await _listed(ctx, params.namespace, job.output["job"]))
    listed = f"; {output['fileCount']} file(s) listed" if "fileCount" in output else "; its log could not be read"
    verb = "listed" if params.list_only else "deleted"
    return ActionResult(
        # The Job is named by this call's key: found again on a retry, it is still this call's deletion.
        changed=(job.changed or bool(ctx.idempotency_key)) and not params.list_only,
        message=f"{verb} {what} (Job {params.namespace}/{job.output['job']}){listed}",
        output=output,
    )


ACTIONS: list[ActionSpec[Any]] = [cleanup_storage]
