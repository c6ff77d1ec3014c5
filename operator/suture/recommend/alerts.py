"""What ranking reads: one alert, the live context of its target, and the candidate templates.

Alerts arrive as Alertmanager v4 dicts (untrusted input); candidates as names
or template objects. Both are normalised here, once, so the rest of the box
works on plain frozen dataclasses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from suture.api import LIVE_CONTEXT_KEY, WorkflowTemplateSpec, spec_hash

Outcome = Literal["Effective", "Ineffective", "Unknown"]
OUTCOMES: tuple[Outcome, ...] = ("Effective", "Ineffective", "Unknown")


@dataclass(frozen=True)
class AlertView:
    """The parts of an alert ranking uses."""

    name: str
    """The ``alertname`` label: the alert's family, learned within first."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    fingerprint: str
    """Alertmanager's fingerprint, or a hash of the labels when it sent none."""

    @classmethod
    def parse(cls, alert: Mapping[str, Any]) -> AlertView:
        """Read one alert dict; tolerant of missing fields, strict about types (values become strings)."""
        labels = {str(k): str(v) for k, v in dict(alert.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in dict(alert.get("annotations") or {}).items()}
        fingerprint = str(alert.get("fingerprint") or "")
        if not fingerprint:
            canonical = json.dumps(labels, sort_keys=True).encode()
            fingerprint = hashlib.sha256(canonical).hexdigest()[:16]
        return cls(name=labels.get("alertname", ""), labels=labels, annotations=annotations, fingerprint=fingerprint)


@dataclass(frozen=True)
class Context:
    """Facts read from the alert's live target when it is ranked; every field optional.

    The caller (the receiver, or a test) reads them; ranking never calls the
    Kubernetes API itself, so it works on the alert's own text when nothing is
    reachable.
    """

    termination_reason: str | None = None
    """The last termination reason of the target's containers, e.g. ``OOMKilled``, ``Error``."""
    exit_code: int | None = None
    """That termination's exit code, e.g. 137."""
    restarts: int | None = None
    """Container restarts of the target pod(s)."""
    recent_rollout: bool | None = None
    """Whether the owning workload rolled out recently (within the operator's window)."""
    node_conditions: tuple[str, ...] = ()
    """Node conditions that are not as they should be, e.g. ``MemoryPressure``, ``Ready=False``."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Any other context as key/value; each pair becomes a feature."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, only the fields that are set (stored with the alert in history)."""
        out: dict[str, Any] = {}
        if self.termination_reason is not None:
            out["terminationReason"] = self.termination_reason
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.restarts is not None:
            out["restarts"] = self.restarts
        if self.recent_rollout is not None:
            out["recentRollout"] = self.recent_rollout
        if self.node_conditions:
            out["nodeConditions"] = list(self.node_conditions)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def carried_by(cls, alert: Mapping[str, Any]) -> Context | None:
        """The context an alert dict carries under :data:`~suture.api.LIVE_CONTEXT_KEY` (the receiver puts it
        there for ranking, :func:`suture.runs.alert_of` for learning), or None."""
        stored = alert.get(LIVE_CONTEXT_KEY)
        return cls.from_dict(stored) if isinstance(stored, Mapping) else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        """The inverse of :meth:`as_dict`."""
        return cls(
            termination_reason=data.get("terminationReason"),
            exit_code=data.get("exitCode"),
            restarts=data.get("restarts"),
            recent_rollout=data.get("recentRollout"),
            node_conditions=tuple(data.get("nodeConditions") or ()),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True)
class Candidate:
    """A template that may be chosen: its name, its priority and the words it describes itself with."""

    name: str
    priority: int = 0
    """The template's ``spec.priority`` (-100..100): a cold-start prior and a tie-breaker."""
    text: str = ""
    """Description, tags and matched alert names: a cold-start prior by word overlap with the alert."""
    version: str = ""
    """The template's current version (:func:`suture.api.spec_hash` of its spec); empty for a bare name, which
    ranks without telling versions apart."""


def candidate_from(item: Any) -> Candidate:
    """Normalise a template name, a :class:`Candidate`, or a WorkflowTemplate-like object.

    Raises TypeError for anything else, so a wrong call fails loudly instead of
    ranking garbage.
    """
    if isinstance(item, Candidate):
        return item
    if isinstance(item, str):
        return Candidate(name=item)
    metadata = getattr(item, "metadata", None)
    spec = getattr(item, "spec", None)
    if isinstance(metadata, Mapping) and spec is not None and metadata.get("name"):
        words = [str(getattr(spec, "description", "") or "")]
        words += [str(t) for t in getattr(spec, "tags", []) or []]
        match = getattr(spec, "match", None)
        words += [str(n) for n in getattr(match, "alert_names", []) or []]
        # The same rule that writes status.templateVersion.hash, so ranking and history name versions alike.
        version = spec_hash(spec) if isinstance(spec, WorkflowTemplateSpec) else ""
        return Candidate(
            name=str(metadata["name"]),
            priority=int(getattr(spec, "priority", 0)),
            text=" ".join(words),
            version=version,
        )
    raise TypeError(f"a candidate must be a template name, a Candidate or a template object, not {type(item).__name__}")


def candidates_from(items: Sequence[Any]) -> list[Candidate]:
    """Normalise candidates keeping their declared order; a repeated name keeps its first place."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for item in items:
        cand = candidate_from(item)
        if cand.name not in seen:
            seen.add(cand.name)
            out.append(cand)
    return out
