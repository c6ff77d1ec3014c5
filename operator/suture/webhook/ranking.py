"""Ordering the candidate templates for an alert, behind one interface.

The receiver calls ``ranker.rank(alert, candidates)`` and records the result
in the Remediation. :class:`PriorityRanker` is the default until the learning
recommender (``suture.recommend``) plugs in: anything with the same ``rank``
signature returning :class:`Ranked` items, best first, can replace it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from suture import metrics
from suture.recommend import Context
from suture.webhook.catalog import IndexedTemplate

logger = logging.getLogger("suture.webhook")


@dataclass(frozen=True)
class Ranked:
    """One candidate with its score and the reasons, in plain words."""

    template: IndexedTemplate
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)
    confidence: float | None = None
    """0..1, how much evidence stands behind the score; None when the ranker does not say."""
    context: Mapping[str, Any] | None = None
    """The live context the ranking saw, as ``status.recommendation.context`` stores it; None when none was read."""


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


class ByNameRanker:
    """Plugs in a ranker that answers with template *names* (``suture.recommend.Recommender``).

    The inner ranker gets the alert and the entries themselves (they carry
    ``metadata`` and ``spec`` like a template object) and returns items with
    ``.template`` (a name), ``.score``, ``.reasons`` and optionally
    ``.confidence``. Names are mapped back to entries; as names alone cannot
    tell a WorkflowTemplate from a ClusterWorkflowTemplate of the same name,
    only the first entry of each name is offered (namespaced before cluster),
    and a name the inner ranker invents is ignored.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def rank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Ranked]:
        """The inner ranking, best first, as :class:`Ranked` entries.

        The alert's live context (under :data:`~suture.api.LIVE_CONTEXT_KEY`, put there by the receiver) goes
        to the inner ranker as its ``context``, and comes back on each entry with the weights it had.
        """
        by_name: dict[str, IndexedTemplate] = {}
        for entry in sorted(candidates, key=lambda t: t.kind != "WorkflowTemplate"):
            by_name.setdefault(entry.name, entry)
        context = Context.carried_by(alert)
        items = (
            self.inner.rank(alert, list(by_name.values()), context=context)
            if context is not None
            else self.inner.rank(alert, list(by_name.values()))
        )
        ranked = []
        for item in items:
            name = str(item.template)
            if name not in by_name:
                continue
            entry = by_name.pop(name)
            confidence = getattr(item, "confidence", None)
            ranked.append(
                Ranked(
                    template=entry,
                    score=float(item.score),
                    reasons=tuple(str(r) for r in item.reasons),
                    confidence=float(confidence) if confidence is not None else None,
                    context=_stored(context, getattr(item, "context", ())) if context is not None else None,
                )
            )
        return ranked


def _stored(context: Context, weighted: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """``status.recommendation.context``: the facts, and each as the feature ranking weighed."""
    features = [{"feature": str(t).removeprefix("ctx:"), "weight": float(w)} for t, w in weighted]
    return {**context.as_dict(), "features": features}


async def rank_without_blocking(
    ranker: Ranker, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]
) -> Sequence[Ranked]:
    """``ranker``'s order; through its ``arank`` when it has one, so slow rankers keep off the event loop."""
    arank = getattr(ranker, "arank", None)
    if arank is not None:
        ranked: Sequence[Ranked] = await arank(alert, candidates)
        return ranked
    return ranker.rank(alert, candidates)


class FallbackRanker:
    """Ranks with ``primary`` in a worker thread; when it fails, with ``fallback`` (logged and counted).

    A broken recommender (a corrupt index, a Qdrant server down) must cost the
    learned order, never the alert: the receiver still creates the Remediation.
    A primary that returns fewer candidates than it was given is completed by
    the fallback's order, so every candidate is still ranked once.
    """

    def __init__(self, primary: Ranker, fallback: Ranker) -> None:
        self.primary = primary
        self.fallback = fallback

    def rank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Ranked]:
        """The primary's order in this thread (for callers without an event loop), with the same fallback."""
        try:
            return self._complete(list(self.primary.rank(alert, candidates)), alert, candidates)
        except Exception:
            return self._fall_back(alert, candidates)

    async def arank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Ranked]:
        """The primary's order computed in a worker thread; the fallback's when the primary raises."""
        try:
            ranked = await asyncio.to_thread(self.primary.rank, alert, candidates)
            return self._complete(list(ranked), alert, candidates)
        except Exception:
            return self._fall_back(alert, candidates)

    def _complete(
        self, ranked: list[Ranked], alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]
    ) -> list[Ranked]:
        seen = {id(r.template) for r in ranked}
        return ranked + [r for r in self.fallback.rank(alert, candidates) if id(r.template) not in seen]

    def _fall_back(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Ranked]:
        metrics.RANKER_FALLBACKS.inc()
        # The alert's labels stay out of the log (untrusted, possibly sensitive): the fingerprint names it.
        logger.exception("the recommender failed for alert %s; ranking by priority", alert.get("fingerprint", ""))
        return list(self.fallback.rank(alert, candidates))
