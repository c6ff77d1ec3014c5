"""The live context of an alert's target, read when the alert is ranked.

Which fix works usually depends on what the alert's words do not say: a pod
OOMKilled wants more memory, one failing since a rollout wants a rollback, one
on a node under pressure wants moving. :class:`ContextReader` reads those facts
from the objects the alert names (its ``pod``, ``deployment`` and ``node``
labels) and hands them to ranking as a :class:`~suture.recommend.Context`.

Bounded and harmless by design: at most three GETs per alert (the pod, then the
object whose creation marks its rollout and its node at once; or the Deployment;
or the node), all within one timeout. A pod's rollout is its ReplicaSet's
creation (a Deployment's pod) or its ControllerRevision's (a StatefulSet's or
DaemonSet's pod, named by the pod's ``controller-revision-hash`` label): either
is created when the pod template changes, so a recent one is a recent rollout.
A rollback to an earlier template reuses the earlier object and is not seen.
Anything that goes wrong (a missing object, RBAC, a slow API server) means no
context, counted and logged at debug, never a failed alert: ranking works on
the alert's own text without it.

Alert labels are untrusted: a label is used only as an object name, only after
it passed the DNS name check, and only through the client (never spliced into a
path, selector or query). Names read from the API server (the pod's node,
owner and revision) pass the same check.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from suture import metrics
from suture.kube import KubeClient
from suture.recommend import Context

logger = logging.getLogger("suture.webhook")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Node conditions where True is the trouble; Ready is the other way round.
_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
_MAX_FACT = 63  # reasons come from the kubelet: short words, but a status is anyone's to write


def dns_name(value: str | None) -> str | None:
    """``value`` when it is a valid object name (DNS-1123 subdomain), else None."""
    if value is None or len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        return None
    return value


def dns_label(value: str | None) -> str | None:
    """``value`` when it is a valid namespace name (DNS-1123 label), else None."""
    return value if value is not None and _DNS_LABEL.fullmatch(value) else None


@dataclass
class ContextReader:
    """Reads an alert's live context through ``kube``; one instance per receiver.

    ``namespaces``: when not empty, only objects of these namespaces are read
    (the receiver's watched namespaces; nodes are cluster-scoped and always
    read). ``rollout_window``: a pod's ReplicaSet or ControllerRevision created, or
    a Deployment progressing, within it counts as a recent rollout.
    """

    kube: KubeClient
    timeout: float = 1.0
    rollout_window: timedelta = timedelta(minutes=30)
    namespaces: frozenset[str] = frozenset()
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def wanted(self, labels: Mapping[str, str]) -> bool:
        """Whether the alert names anything to read (no API call is made otherwise)."""
        return any(labels.get(key) for key in ("pod", "deployment", "node"))

    async def read(self, labels: Mapping[str, str]) -> Context | None:
        """The context of the objects ``labels`` name, or None (nothing named, found or readable)."""
        if not self.wanted(labels):
            return None
        try:
            async with asyncio.timeout(self.timeout):  # no extra task, unlike wait_for: this runs per alert
                context = await self._read(labels)
        except Exception as exc:  # context is a hint: losing it must never cost the alert
            metrics.LIVE_CONTEXT_READS.labels("failed").inc()
            logger.debug("live context not read: %s: %s", type(exc).__name__, str(exc)[:200])
            return None
        metrics.LIVE_CONTEXT_READS.labels("read" if context is not None else "none").inc()
        return context

    async def _read(self, labels: Mapping[str, str]) -> Context | None:
        namespace = dns_label(labels.get("namespace"))
        if namespace is not None and self.namespaces and namespace not in self.namespaces:
            namespace = None
        pod_name, deployment_name = dns_name(labels.get("pod")), dns_name(labels.get("deployment"))
        node_name = dns_name(labels.get("node"))
        if namespace is not None and pod_name is not None:
            pod = await self.kube.get_or_none("Pod", pod_name, namespace)
            if pod is not None:
                return await self._from_pod(pod, namespace, labels.get("container"), node_name)
        if namespace is not None and deployment_name is not None:
            found = await self.kube.get_or_none("Deployment", deployment_name, namespace, api_version="apps/v1")
            node = await self._node(node_name)
            return _context(recent_rollout=self._deployment_recent(found), node_conditions=node)
        return _context(node_conditions=await self._node(node_name))

    async def _from_pod(
        self, pod: Mapping[str, Any], namespace: str, container: str | None, node_label: str | None
    ) -> Context | None:
        statuses = [s for s in (pod.get("status") or {}).get("containerStatuses") or [] if isinstance(s, Mapping)]
        reason, exit_code = _last_termination(statuses, container)
        restarts = sum(max(0, int(s.get("restartCount") or 0)) for s in statuses) if statuses else None
        marker = rollout_marker(pod)
        node_name = dns_name(str((pod.get("spec") or {}).get("nodeName") or "")) or node_label
        if marker is not None and node_name is not None:  # both at once: one round trip, not two
            created, node = await asyncio.gather(self._created(marker, namespace), self._node(node_name))
        else:
            created = await self._created(marker, namespace) if marker is not None else None
            node = await self._node(node_name)
        recent = self._recent(created)
        return _context(
            termination_reason=reason,
            exit_code=exit_code,
            restarts=restarts,
            recent_rollout=recent,
            node_conditions=node,
        )

    async def _created(self, marker: tuple[str, str], namespace: str) -> datetime | None:
        kind, name = marker
        found = await self.kube.get_or_none(kind, name, namespace, api_version="apps/v1")
        return _time((found.get("metadata") or {}).get("creationTimestamp")) if found is not None else None

    async def _node(self, name: str | None) -> tuple[str, ...]:
        if name is None:
            return ()
        node = await self.kube.get_or_none("Node", name)
        return node_conditions(node) if node is not None else ()

    def _deployment_recent(self, deployment: Mapping[str, Any] | None) -> bool | None:
        if deployment is None:
            return None
        status = deployment.get("status") or {}
        spec_replicas = (deployment.get("spec") or {}).get("replicas")
        if spec_replicas is not None and int(status.get("updatedReplicas") or 0) < int(spec_replicas):
            return True  # a rollout is under way right now
        for cond in status.get("conditions") or []:
            if isinstance(cond, Mapping) and cond.get("type") == "Progressing":
                return self._recent(_time(cond.get("lastUpdateTime")))
        return None

    def _recent(self, when: datetime | None) -> bool | None:
        return None if when is None else self.clock() - when <= self.rollout_window


def node_conditions(node: Mapping[str, Any]) -> tuple[str, ...]:
    """The conditions of ``node`` that are not as they should be, e.g. ``MemoryPressure``, ``NotReady``."""
    out: list[str] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        if not isinstance(cond, Mapping):
            continue
        kind, status = cond.get("type"), cond.get("status")
        if kind == "Ready" and status != "True":
            out.append("NotReady")
        elif kind in _PRESSURE and status == "True":
            out.append(str(kind))
    if (node.get("spec") or {}).get("unschedulable"):
        out.append("Unschedulable")
    return tuple(sorted(set(out)))


def _last_termination(statuses: Sequence[Mapping[str, Any]], container: str | None) -> tuple[str | None, int | None]:
    """The reason and exit code of the latest termination: of the alert's container when it names one."""
    chosen = [s for s in statuses if s.get("name") == container] or list(statuses)
    latest: tuple[str, str | None, int | None] | None = None
    for status in chosen:
        for state in (status.get("state") or {}, status.get("lastState") or {}):
            ended = state.get("terminated") if isinstance(state, Mapping) else None
            if not isinstance(ended, Mapping):
                continue
            code = ended.get("exitCode")
            entry = (
                str(ended.get("finishedAt") or ""),
                str(ended["reason"])[:_MAX_FACT] if ended.get("reason") else None,
                code if isinstance(code, int) and not isinstance(code, bool) else None,
            )
            if latest is None or entry[0] > latest[0]:
                latest = entry
    return (latest[1], latest[2]) if latest is not None else (None, None)


def rollout_marker(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the apps/v1 object created when the pod's template last changed, or None.

    A Deployment's pod: its controlling ReplicaSet. A StatefulSet's or
    DaemonSet's pod: its ControllerRevision, which the pod's
    ``controller-revision-hash`` label names (a StatefulSet writes the
    revision's whole name there, a DaemonSet only the hash after its own name).
    """
    meta = pod.get("metadata") or {}
    owner = next((r for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping) and r.get("controller")), None)
    if owner is None or owner.get("apiVersion") != "apps/v1":
        return None
    name = str(owner.get("name") or "")
    revision = str((meta.get("labels") or {}).get("controller-revision-hash") or "")
    match owner.get("kind"):
        case "ReplicaSet":
            found = dns_name(name)
            return ("ReplicaSet", found) if found else None
        case "StatefulSet" if revision:
            found = dns_name(revision)
        case "DaemonSet" if revision:
            found = dns_name(f"{name}-{revision}")
        case _:
            return None
    return ("ControllerRevision", found) if found else None


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _context(**facts: Any) -> Context | None:
    """A Context of the facts that were found; None when none was."""
    context = Context(**facts)
    return context if context.as_dict() else None
