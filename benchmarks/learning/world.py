"""A simulated cluster that fires kube-prometheus-like alerts with hidden causes.

Each alert family (KubePodCrashLooping, ...) has causes with prior weights
that drift at ``drift_at``; which template fixes an alert depends on its cause
(``success[cause][template]``). A cause shows only partly: each *cue* (a phrase
in the description, a label, or a live-context fact) is emitted with a
probability that depends on the cause, and live context is reachable for only
some alerts. Every alert also carries identity labels (namespace, pod, workload,
node) unrelated to the cause, and filler words.

The information ceiling (:func:`ceiling_choice`) knows all of these settings
but not the alert's cause: it computes the exact posterior over causes from
the cues it sees (present or absent) and picks the template with the highest
expected success. Nothing here is tuned to Suture; tests never import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suture.recommend import Context


@dataclass(frozen=True)
class Cue:
    """An observable hint: ``kind`` is word, label, reason (termination), rollout or node (condition)."""

    kind: str
    value: str
    p: dict[str, float]
    """Emission probability per cause."""
    default: float = 0.08
    """Emission probability for causes not in ``p``."""

    def prob(self, cause: str) -> float:
        return self.p.get(cause, self.default)


@dataclass(frozen=True)
class Family:
    alertname: str
    templates: list[str]
    """Candidates in declared order (what "first matching" picks is the first)."""
    causes: dict[str, tuple[float, float]]
    """Cause -> (prior weight before drift, after drift)."""
    success: dict[str, dict[str, float]]
    cues: list[Cue]
    summary: str
    kind: str = "pod"


FAMILIES: list[Family] = [
    Family(
        alertname="KubePodCrashLooping",
        templates=["restart-pod", "rollback-bad-rollout", "increase-memory-limit", "restart-dependency"],
        causes={"bad_rollout": (0.35, 0.15), "oom": (0.2, 0.35), "dependency": (0.25, 0.25), "transient": (0.2, 0.25)},
        success={
            "bad_rollout": {
                "restart-pod": 0.1,
                "rollback-bad-rollout": 0.9,
                "increase-memory-limit": 0.05,
                "restart-dependency": 0.1,
            },
            "oom": {
                "restart-pod": 0.25,
                "rollback-bad-rollout": 0.15,
                "increase-memory-limit": 0.9,
                "restart-dependency": 0.05,
            },
            "dependency": {
                "restart-pod": 0.3,
                "rollback-bad-rollout": 0.1,
                "increase-memory-limit": 0.05,
                "restart-dependency": 0.85,
            },
            "transient": {
                "restart-pod": 0.85,
                "rollback-bad-rollout": 0.45,
                "increase-memory-limit": 0.35,
                "restart-dependency": 0.4,
            },
        },
        cues=[
            Cue("rollout", "recent", {"bad_rollout": 0.9}, 0.15),
            Cue("reason", "OOMKilled", {"oom": 0.9}, 0.03),
            Cue("word", "last log line mentions OOMKilled", {"oom": 0.35}, 0.03),
            Cue("word", "connection refused", {"dependency": 0.6}, 0.1),
            Cue("word", "liveness probe failed", {"transient": 0.3, "dependency": 0.3}, 0.1),
        ],
        summary="Pod {ns}/{pod} ({container}) is in waiting state (reason: CrashLoopBackOff).",
    ),
    Family(
        alertname="KubeContainerOOMKilled",
        templates=["restart-pod", "increase-memory-limit", "scale-out", "rollback-bad-rollout"],
        causes={"limit_too_low": (0.4, 0.25), "leak": (0.3, 0.25), "spike": (0.3, 0.5)},
        success={
            "limit_too_low": {
                "restart-pod": 0.15,
                "increase-memory-limit": 0.9,
                "scale-out": 0.3,
                "rollback-bad-rollout": 0.1,
            },
            "leak": {"restart-pod": 0.55, "increase-memory-limit": 0.35, "scale-out": 0.2, "rollback-bad-rollout": 0.6},
            "spike": {"restart-pod": 0.1, "increase-memory-limit": 0.4, "scale-out": 0.9, "rollback-bad-rollout": 0.05},
        },
        cues=[
            Cue("word", "working set close to the limit", {"limit_too_low": 0.6}, 0.15),
            Cue("word", "memory grows steadily since the last deploy", {"leak": 0.5}, 0.05),
            Cue("rollout", "recent", {"leak": 0.7}, 0.2),
            Cue("word", "request rate doubled", {"spike": 0.6}, 0.1),
            Cue("label", "tier=frontend", {"spike": 0.6}, 0.3),
        ],
        summary="Container {container} in pod {ns}/{pod} was OOMKilled.",
    ),
    Family(
        alertname="KubeDeploymentReplicasMismatch",
        templates=["restart-pod", "rollback-bad-rollout", "add-node-capacity", "refresh-image-pull-secret"],
        causes={"bad_rollout": (0.35, 0.2), "capacity": (0.3, 0.4), "image_pull": (0.2, 0.2), "stuck": (0.15, 0.2)},
        success={
            "bad_rollout": {
                "restart-pod": 0.1,
                "rollback-bad-rollout": 0.9,
                "add-node-capacity": 0.1,
                "refresh-image-pull-secret": 0.05,
            },
            "capacity": {
                "restart-pod": 0.05,
                "rollback-bad-rollout": 0.1,
                "add-node-capacity": 0.85,
                "refresh-image-pull-secret": 0.05,
            },
            "image_pull": {
                "restart-pod": 0.1,
                "rollback-bad-rollout": 0.45,
                "add-node-capacity": 0.05,
                "refresh-image-pull-secret": 0.9,
            },
            "stuck": {
                "restart-pod": 0.85,
                "rollback-bad-rollout": 0.3,
                "add-node-capacity": 0.2,
                "refresh-image-pull-secret": 0.05,
            },
        },
        cues=[
            Cue("rollout", "recent", {"bad_rollout": 0.85, "image_pull": 0.5}, 0.15),
            Cue("word", "ProgressDeadlineExceeded", {"bad_rollout": 0.5, "image_pull": 0.3}, 0.05),
            Cue("word", "0/5 nodes are available: Insufficient cpu", {"capacity": 0.65}, 0.05),
            Cue("word", "ImagePullBackOff", {"image_pull": 0.7}, 0.03),
        ],
        summary="Deployment {ns}/{workload} has not matched the expected number of replicas for 15 minutes.",
        kind="deployment",
    ),
    Family(
        alertname="KubeNodeNotReady",
        templates=["cordon-and-drain", "restart-kubelet", "reboot-node", "clean-node-disk"],
        causes={"kubelet": (0.35, 0.2), "memory": (0.25, 0.3), "disk": (0.2, 0.3), "network": (0.2, 0.2)},
        success={
            "kubelet": {"cordon-and-drain": 0.3, "restart-kubelet": 0.9, "reboot-node": 0.7, "clean-node-disk": 0.05},
            "memory": {"cordon-and-drain": 0.8, "restart-kubelet": 0.2, "reboot-node": 0.6, "clean-node-disk": 0.05},
            "disk": {"cordon-and-drain": 0.2, "restart-kubelet": 0.1, "reboot-node": 0.3, "clean-node-disk": 0.9},
            "network": {"cordon-and-drain": 0.3, "restart-kubelet": 0.2, "reboot-node": 0.75, "clean-node-disk": 0.05},
        },
        cues=[
            Cue("word", "Kubelet stopped posting node status", {"kubelet": 0.6, "network": 0.4}, 0.1),
            Cue("node", "MemoryPressure", {"memory": 0.85}, 0.05),
            Cue("node", "DiskPressure", {"disk": 0.85}, 0.05),
            Cue("word", "image filesystem usage high", {"disk": 0.4}, 0.05),
            Cue("word", "NetworkUnavailable", {"network": 0.5}, 0.05),
        ],
        summary="{node} has been unready for more than 15 minutes.",
        kind="node",
    ),
    Family(
        alertname="KubePersistentVolumeFillingUp",
        templates=["expand-pvc", "clean-old-files", "rotate-logs"],
        causes={"data": (0.4, 0.3), "logs": (0.35, 0.5), "tmp": (0.25, 0.2)},
        success={
            "data": {"expand-pvc": 0.9, "clean-old-files": 0.2, "rotate-logs": 0.1},
            "logs": {"expand-pvc": 0.4, "clean-old-files": 0.3, "rotate-logs": 0.9},
            "tmp": {"expand-pvc": 0.4, "clean-old-files": 0.85, "rotate-logs": 0.15},
        },
        cues=[
            Cue("word", "growth is steady", {"data": 0.5}, 0.15),
            Cue("word", "largest directory is log", {"logs": 0.6}, 0.05),
            Cue("label", "volume_role=logs", {"logs": 0.5}, 0.1),
            Cue("word", "many temporary files", {"tmp": 0.45}, 0.05),
        ],
        summary="The PersistentVolume claimed by {pvc} in namespace {ns} is only 3% free.",
        kind="pvc",
    ),
]

FILLER = ["please", "check", "the", "runbook", "cluster", "team", "owner", "ticket", "paged", "oncall", "again"]
NAMESPACES = ["shop", "payments", "search", "auth", "data", "web"]
WORKLOADS = [
    f"{w}"
    for w in (
        "api",
        "cart",
        "checkout",
        "worker",
        "indexer",
        "gateway",
        "ledger",
        "auth",
        "frontend",
        "queue",
        "cache",
        "batch",
        "reports",
        "mailer",
        "images",
    )
]
NODES = [f"node-{i:02d}" for i in range(12)]


@dataclass
class Settings:
    alerts: int = 1000
    drift_at: int = 500
    context_rate: float = 0.5
    """Share of alerts whose live target is reachable (context features present)."""
    unknown_rate: float = 0.1
    """Share of outcomes nobody could verify (Unknown)."""


@dataclass
class Alert:
    """One simulated occurrence: what a policy sees (payload, context) and what it does not (cause)."""

    family: Family
    cause: str
    payload: dict[str, Any]
    context: Context | None
    observed: dict[int, bool] = field(default_factory=dict)
    """Cue index -> emitted? for every cue the alert lets one observe."""
    index: int = 0


def _suffix(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("bcdfghjklmnpqrstvwxz2456789"), size=n))


def priors(family: Family, index: int, settings: Settings) -> dict[str, float]:
    """Cause weights in force for the ``index``-th alert (they change at drift_at)."""
    phase = 0 if index < settings.drift_at else 1
    total = sum(w[phase] for w in family.causes.values())
    return {c: w[phase] / total for c, w in family.causes.items()}


def make_alert(rng: np.random.Generator, index: int, settings: Settings) -> Alert:
    """Draw one alert: family, hidden cause, emitted cues, identity labels and words."""
    family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    weights = priors(family, index, settings)
    causes = list(weights)
    cause = causes[int(rng.choice(len(causes), p=[weights[c] for c in causes]))]
    ns = NAMESPACES[int(rng.integers(len(NAMESPACES)))]
    workload = WORKLOADS[int(rng.integers(len(WORKLOADS)))]
    pod = f"{workload}-{_suffix(rng, 9)}-{_suffix(rng, 5)}"
    node = NODES[int(rng.integers(len(NODES)))]
    reachable = bool(rng.random() < settings.context_rate)
    labels = {"alertname": family.alertname, "severity": "warning", "namespace": ns}
    if family.kind == "pod":
        labels |= {"pod": pod, "container": "main", "node": node}
    elif family.kind == "deployment":
        labels |= {"deployment": workload}
    elif family.kind == "node":
        labels = {"alertname": family.alertname, "severity": "critical", "node": node}
    else:
        labels |= {"persistentvolumeclaim": f"data-{workload}-0"}
    words: list[str] = []
    ctx: dict[str, Any] = {}
    observed: dict[int, bool] = {}
    for i, cue in enumerate(family.cues):
        emitted = bool(rng.random() < cue.prob(cause))
        if cue.kind in ("word", "label"):
            observed[i] = emitted
            if emitted and cue.kind == "word":
                words.append(cue.value)
            elif emitted:
                key, value = cue.value.split("=", 1)
                labels[key] = value
        elif reachable:
            observed[i] = emitted
            if cue.kind == "reason":
                ctx["termination_reason"] = cue.value if emitted else "Error"
                ctx["exit_code"] = 137 if emitted else 1
            elif cue.kind == "rollout":
                ctx["recent_rollout"] = emitted
            elif cue.kind == "node" and emitted:
                ctx["node_conditions"] = (*ctx.get("node_conditions", ()), cue.value)
    if rng.random() < 0.5:
        words += list(rng.choice(FILLER, size=3, replace=False))
    rng.shuffle(words)
    summary = family.summary.format(
        ns=ns, pod=pod, container="main", workload=workload, node=node, pvc=labels.get("persistentvolumeclaim", "")
    )
    payload = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": family.alertname, "description": f"{summary} {'; '.join(words)}".strip()},
        "startsAt": "2026-11-29T00:00:00Z",
        "fingerprint": f"{index:06d}{_suffix(rng, 10)}",
    }
    if reachable:
        if family.kind == "pod":
            ctx.setdefault("restarts", int(rng.integers(1, 30)))
        context: Context | None = Context(**ctx)
    else:
        context = None
    return Alert(family=family, cause=cause, payload=payload, context=context, observed=observed, index=index)


def cause_posterior(alert: Alert, settings: Settings) -> dict[str, float]:
    """Exact P(cause | observed cues) under the simulation's own settings (naive Bayes is exact here)."""
    weights = priors(alert.family, alert.index, settings)
    logp = {}
    for cause, prior in weights.items():
        total = math.log(prior)
        for i, emitted in alert.observed.items():
            p = alert.family.cues[i].prob(cause)
            total += math.log(p if emitted else 1.0 - p)
        logp[cause] = total
    top = max(logp.values())
    norm = sum(math.exp(v - top) for v in logp.values())
    return {c: math.exp(v - top) / norm for c, v in logp.items()}


def ceiling_choice(alert: Alert, settings: Settings) -> str:
    """The template with the highest expected success given what can be observed (the information ceiling)."""
    post = cause_posterior(alert, settings)
    return max(alert.family.templates, key=lambda t: sum(p * alert.family.success[c][t] for c, p in post.items()))


def outcome(rng: np.random.Generator, alert: Alert, template: str, settings: Settings) -> str:
    """Effective with the cause's success probability; Unknown for a share of runs."""
    if rng.random() < settings.unknown_rate:
        return "Unknown"
    return "Effective" if rng.random() < alert.family.success[alert.cause][template] else "Ineffective"
