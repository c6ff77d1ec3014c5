"""Explanations in plain words, and the Remediation status block built from a ranking."""

from __future__ import annotations

from collections.abc import Sequence

from suture.api import Alternative, Recommendation
from suture.recommend.ranking import Evidence, Neighbour, Policy


def reasons_for(
    *,
    prior: float,
    mean: float,
    evidence: Evidence,
    pooled: bool,
    policy: Policy,
    features: Sequence[tuple[str, float]],
    context: Sequence[tuple[str, float]] = (),
) -> tuple[str, ...]:
    """Why a template got its score, one sentence per fact."""
    out: list[str] = []
    if evidence.total > 0:
        out.append(
            f"learned: {evidence.wins:.2f} effective vs {evidence.losses:.2f} ineffective "
            f"(similarity-weighted, {evidence.count} past alerts of this kind) -> {mean:.2f}"
        )
        if evidence.version:
            out.append(
                f"versions: {evidence.current} of these ran the current version {evidence.version}, "
                f"{evidence.older} an older one (counted x{policy.older_version_weight:g})"
            )
        out.extend(f"nearest: {_neighbour(n)}" for n in evidence.neighbours[:3])
    else:
        out.append(f"untried on alerts like this: prior {prior:.2f} (priority and description), kept to be explored")
    if pooled:
        out.append("no evidence in this alert family: borrowed the template's rate in other families")
    if features:
        shown = ", ".join(f"{token} ({weight:.2f})" for token, weight in features[:5])
        out.append(f"features that weighed most: {shown}")
    if context:
        shown = ", ".join(f"{token.removeprefix('ctx:')} ({weight:.2f})" for token, weight in context)
        out.append(f"live context: {shown}")
    if policy.choose == "thompson":
        out.append("score is a draw from the posterior (Thompson sampling)")
    return tuple(out)


def _neighbour(n: Neighbour) -> str:
    return f"{n.fingerprint} {n.outcome} (similarity {n.similarity:.2f})"


def recommendation(ranked: Sequence[object], *, alternatives: int = 4) -> Recommendation:
    """The ``status.recommendation`` of a Remediation from a ranking (best first). Raises ValueError if empty."""
    from suture.recommend.ranking import Ranked

    items = [r for r in ranked if isinstance(r, Ranked)]
    if not items:
        raise ValueError("an empty ranking explains nothing")
    best = items[0]
    return Recommendation(
        template=best.template,
        score=round(best.score, 4),
        confidence=round(best.confidence, 4),
        reasons=list(best.reasons),
        alternatives=[
            Alternative(template=r.template, score=round(r.score, 4), reason=r.reasons[0] if r.reasons else "")
            for r in items[1 : 1 + alternatives]
        ],
    )
