"""Ordering the candidate templates for an alert, behind one interface.

The receiver calls ``ranker.rank(alert, candidates)`` and records the result
in the Remediation. :class:`PriorityRanker` is the default until the learning
recommender (``suture.recommend``) plugs in: anything with the same ``rank``
signature returning :class:`Ranked` items, best first, can replace it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from suture.webhook.catalog import IndexedTemplate


@dataclass(frozen=True)
class Ranked:
    """One candidate with its score and the reasons, in plain words."""

    template: IndexedTemplate
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)


class Ranker(Protocol):
    """Orders candidates for an alert, best first; must return every candidate exactly once."""

    def rank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> Sequence[Ranked]:
        """Best first. ``alert`` is the alert context (name, labels, annotations, fingerprint, startsAt)."""


class PriorityRanker:
    """The default: higher ``spec.priority`` first, then name; score is the priority scaled to 0..1."""

    def rank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Ranked]:
        """Deterministic, so every replica and every repeat choose the same template."""
        del alert  # the default ignores the alert's content on purpose
        ordered = sorted(candidates, key=lambda t: (-_priority(t), t.name, t.kind, t.namespace or ""))
        return [
            Ranked(
                template=t,
                score=round((_priority(t) + 100) / 200, 4),
                reasons=(f"priority {_priority(t)}; ties broken by name",),
            )
            for t in ordered
        ]


def _priority(template: IndexedTemplate) -> int:
    return template.spec.priority if template.spec is not None else 0
