"""Secret rotation: ask the Secret's owner (External Secrets, cert-manager) to re-issue it, then roll its users.

The Secret itself is never read: its owner is found from the owners' specs
(an ExternalSecret's target, a Certificate's secretName) and its consumers
from the workloads' pod templates, so no Secret data can reach a run's
history, a log or an Event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    Duration,
    ErrorCategory,
    RbacRule,
    Risk,
    UnknownKind,
    action,
    format_duration,
    parse_duration,
)
from suture_actions._common import NamespacedTarget, check_namespace, original, retry_on_conflict, would
from suture_actions.restarts import RestartWorkloadParams, restart_workload

EXTERNAL_SECRET_API = "external-secrets.io/v1"
CERTIFICATE_API = "cert-manager.io/v1"
FORCE_SYNC = "force-sync"  # External Secrets refreshes an ExternalSecret whose force-sync annotation changes
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


class RotateSecretsParams(NamespacedTarget):
    """The Secret (``name``) to have re-issued."""

    roll_consumers: bool = Field(default=True, description="Roll the workloads whose pods use the Secret.")
    timeout: Duration = Field(
        default="5m",
        description="How long to wait for the owner to report the re-issue before rolling; 0s: do not wait.",
    )
    external_secret_api_version: str = Field(
        default=EXTERNAL_SECRET_API, description="apiVersion of ExternalSecret served here (v1, or v1beta1)."
    )


async def _list_or_empty(ctx: ActionContext, kind: str, api_version: str, namespace: str) -> list[dict[str, Any]]:
    """Objects of a kind that may not be installed: an unserved kind has none."""
    try:
        return await ctx.kube.list(kind, namespace, api_version=api_version)
    except UnknownKind:
        return []


async def find_owner(ctx: ActionContext, params: RotateSecretsParams) -> dict[str, Any]:
    """The one ExternalSecret or Certificate that produces the Secret, read from their specs."""
    owners: list[dict[str, Any]] = []
    for es in await _list_or_empty(ctx, "ExternalSecret", params.external_secret_api_version, params.namespace):
        target = ((es.get("spec") or {}).get("target") or {}).get("name") or es["metadata"]["name"]
        if target == params.name:
            owners.append({"kind": "ExternalSecret", "apiVersion": params.external_secret_api_version, "object": es})
    for cert in await _list_or_empty(ctx, "Certificate", CERTIFICATE_API, params.namespace):
        if (cert.get("spec") or {}).get("secretName") == params.name:
            owners.append({"kind": "Certificate", "apiVersion": CERTIFICATE_API, "object": cert})
    if len(owners) != 1:
        found = ", ".join(f"{o['kind']}/{o['object']['metadata']['name']}" for o in owners) or "none"
        raise ActionError(
            f"Secret {params.namespace}/{params.name} needs exactly one ExternalSecret or Certificate producing it; "
            f"found {found}",
            category=ErrorCategory.NOT_FOUND if not owners else ErrorCategory.INVALID,
            action="rotate_secrets",
        )
    return owners[0]


def uses_secret(template: Mapping[str, Any], secret: str) -> bool:
    """True when a pod template mounts the Secret or reads it into the environment."""
    spec = template.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName") == secret:
            return True
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("secret") or {}).get("name") == secret:
                return True
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret:
                return True
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name") == secret:
                return True
    return False


def _evidence(owner: Mapping[str, Any]) -> Any:
    """What changes once the owner has re-issued: an ExternalSecret's refreshTime, a Certificate's revision."""
    status = owner.get("status") or {}
    return status.get("refreshTime") if owner.get("kind") == "ExternalSecret" else status.get("revision")


def _message(stamp: str) -> str:
    return f"Re-issuance requested by Suture ({stamp})"


async def _request(ctx: ActionContext, owner: dict[str, Any], namespace: str, stamp: str) -> bool:
    """Ask the owner to re-issue; False when this stamp's request is already there."""
    kind, api_version, name = owner["kind"], owner["apiVersion"], owner["object"]["metadata"]["name"]

    async def attempt() -> bool:
        obj = await ctx.kube.get(kind, name, namespace, api_version=api_version)
        rv = obj["metadata"]["resourceVersion"]
        if kind == "ExternalSecret":
            if (obj["metadata"].get("annotations") or {}).get(FORCE_SYNC) == stamp:
                return False
            patch = {"metadata": {"resourceVersion": rv, "annotations": {FORCE_SYNC: stamp}}}
            await ctx.kube.patch(kind, name, patch, namespace, api_version=api_version, dry_run=ctx.dry_run)
            return True
        # cert-manager re-issues a Certificate whose Issuing condition is True, as `cmctl renew` sets it.
        conditions = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") != "Issuing"]
        issuing: dict[str, Any] = next(
            (c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Issuing"), {}
        )
        if issuing.get("status") == "True":
            return False  # a re-issue is already under way (ours, on an earlier attempt, or anyone's)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": _message(stamp),
            "lastTransitionTime": now,
        }
        if obj["metadata"].get("generation") is not None:
            condition["observedGeneration"] = obj["metadata"]["generation"]
        patch = {"metadata": {"resourceVersion": rv}, "status": {"conditions": [*conditions, condition]}}
        await ctx.kube.patch(
            kind, name, patch, namespace, api_version=api_version, dry_run=ctx.dry_run, subresource="status"
        )
        return True

    return await retry_on_conflict(attempt)


async def _wait_reissued(ctx: ActionContext, owner: dict[str, Any], namespace: str, before: Any, timeout: float) -> Any:
    kind, api_version, name = owner["kind"], owner["apiVersion"], owner["object"]["metadata"]["name"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        obj = await ctx.kube.get(kind, name, namespace, api_version=api_version)
        now = _evidence({**obj, "kind": kind})
        if now is not None and now != before:
            return now
        if loop.time() - started >= timeout:
            raise ActionError(
                f"{kind} {namespace}/{name} did not report a re-issue within {format_duration(timeout)} "
                f"(still {'refreshTime' if kind == 'ExternalSecret' else 'revision'} {before!r}); "
                "its controller may not be running. A retry does not ask again, it waits",
                category=ErrorCategory.TIMEOUT,
                action="rotate_secrets",
            )
        await asyncio.sleep(ctx.poll_interval)


@action(
    name="rotate_secrets",
    family="secrets",
    params=RotateSecretsParams,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("external-secrets.io", ("externalsecrets",), ("list", "get", "patch")),
        RbacRule("cert-manager.io", ("certificates",), ("list", "get")),
        RbacRule("cert-manager.io", ("certificates/status",), ("patch",)),
        RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("list", "get", "patch")),
    ),
)
async def rotate_secrets(ctx: ActionContext, params: RotateSecretsParams) -> ActionResult:
    """Ask the owner of a Secret to re-issue it, wait until it reports so, then roll the workloads that use it.

    The owner is the ExternalSecret whose target is the Secret (asked with a
    new ``force-sync`` annotation) or the cert-manager Certificate whose
    ``secretName`` it is (asked by setting its ``Issuing`` condition, as
    ``cmctl renew`` does). The re-issue shows as a new ``refreshTime`` or
    ``revision`` in the owner's status; then every Deployment, StatefulSet
    and DaemonSet whose pod template mounts the Secret or reads it into its
    environment is rolled. The Secret is never read (Suture is granted no
    access to Secrets for this). One stamp, recorded on the first attempt,
    marks the request and the restarts, so a replay asks and rolls once. No
    undo: a re-issued credential cannot be un-issued.
    """
    act = "rotate_secrets"
    check_namespace(ctx, params.namespace, act)
    owner = await find_owner(ctx, params)
    owner_ref = f"{owner['kind']}/{owner['object']['metadata']['name']}"
    stamp = await original(ctx, "stamp", datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    before = await original(ctx, "evidence", _evidence({**owner["object"], "kind": owner["kind"]}))
    consumers: list[dict[str, str]] = []
    if params.roll_consumers:
        for kind in WORKLOADS:
            for obj in await ctx.kube.list(kind, params.namespace):
                if uses_secret((obj.get("spec") or {}).get("template") or {}, params.name):
                    consumers.append({"kind": kind, "name": obj["metadata"]["name"]})
    output: dict[str, Any] = {
        "namespace": params.namespace,
        "secret": params.name,
        "owner": owner_ref,
        "stamp": stamp,
        "consumers": [f"{c['kind']}/{c['name']}" for c in consumers],
    }
    asked = await _request(ctx, owner, params.namespace, stamp)
    output["requested"] = asked
    if ctx.dry_run:
        rolls = f" and roll {', '.join(output['consumers'])}" if consumers else ""
        return ActionResult(
            changed=False, message=would(ctx, f"ask {owner_ref} to re-issue Secret {params.name}{rolls}"), output=output
        )
    timeout = parse_duration(params.timeout)
    if timeout > 0:
        output["reissued"] = await _wait_reissued(ctx, owner, params.namespace, before, timeout)
    for consumer in consumers:
        sub = RestartWorkloadParams.model_validate({**consumer, "namespace": params.namespace, "token": stamp})
        await restart_workload.run(ctx, sub)
    rolled = f"; rolled {', '.join(output['consumers'])}" if consumers else "; no workload uses it"
    return ActionResult(
        changed=True, message=f"asked {owner_ref} to re-issue Secret {params.name}{rolled}", output=output
    )


ACTIONS: list[ActionSpec[Any]] = [rotate_secrets]
