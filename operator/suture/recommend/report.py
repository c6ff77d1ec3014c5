"""``suture recommend``: rank the templates that match an alert file, print the ranking and why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suture.recommend.alerts import Candidate, Context
from suture.recommend.ranking import Ranked
from suture.recommend.recommender import INDEX_FILE, Recommender


class RecommendInputError(ValueError):
    """The alert or template files cannot be used; the message says which and why."""


def alert_from_document(doc: Any) -> dict[str, Any]:
    """One alert from a file: an Alertmanager webhook body (its first alert) or a single alert."""
    if isinstance(doc, dict) and isinstance(doc.get("alerts"), list) and doc["alerts"]:
        doc = doc["alerts"][0]
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), dict):
        raise RecommendInputError("the alert file must hold an alert with labels, or an Alertmanager webhook body")
    return doc


def matching_templates(paths: Sequence[str], alert: dict[str, Any]) -> list[Any]:
    """Templates under ``paths`` whose ``match`` admits the alert, in file order. Invalid documents are errors."""
    from suture.api import ClusterWorkflowTemplate, WorkflowTemplate
    from suture.validation import parse_document, read_documents

    labels = {str(k): str(v) for k, v in alert["labels"].items()}
    found: list[Any] = []
    for doc in read_documents(list(paths)):
        if doc.problem is not None:
            raise RecommendInputError(f"{doc.source}: {doc.problem.message}")
        model, problems = parse_document(doc.body)
        if problems:
            raise RecommendInputError(f"{doc.source}: {problems[0].path}: {problems[0].message}")
        if isinstance(model, WorkflowTemplate | ClusterWorkflowTemplate) and model.spec.match.admits(labels):
            found.append(model)
    return found


def recommend(
    *, alert: dict[str, Any], templates: Sequence[Any], names: Sequence[str], data_dir: Path | None
) -> list[Ranked]:
    """Rank ``templates`` then ``names`` for ``alert`` against the history in ``data_dir`` (read-only), if any.

    An alert that carries a live context (``liveContext``, as ``status.recommendation.context`` stores it) is
    ranked with it, so a Remediation's choice can be replayed."""
    candidates: list[Any] = [*templates, *(Candidate(n) for n in names)]
    if not candidates:
        raise RecommendInputError("no candidate: no template matches the alert and no --candidate was given")
    if data_dir is not None and (data_dir / INDEX_FILE).exists():
        recommender = Recommender.open(data_dir=data_dir, read_only=True)
    else:
        recommender = Recommender.in_memory()
    try:
        return recommender.rank(alert, candidates, context=Context.carried_by(alert))
    finally:
        recommender.close()


def as_json(ranked: Sequence[Ranked]) -> dict[str, Any]:
    """The ranking as JSON: each template with score, posterior mean, evidence, reasons and neighbours."""
    return {
        "ranking": [
            {
                "template": r.template,
                "score": round(r.score, 4),
                "mean": round(r.mean, 4),
                "evidence": round(r.evidence, 3),
                "confidence": round(r.confidence, 3),
                "reasons": list(r.reasons),
                "neighbours": [n.__dict__ for n in r.neighbours],
                "features": [{"token": t, "weight": w} for t, w in r.features],
            }
            for r in ranked
        ]
    }


def render_text(ranked: Sequence[Ranked]) -> str:
    """A table of the ranking, then the reasons for the first choice."""
    from suture.table import render_table

    rows = [[str(i + 1), r.template, f"{r.score:.3f}", f"{r.evidence:.1f}"] for i, r in enumerate(ranked)]
    lines = [render_table(["#", "TEMPLATE", "SCORE", "EVIDENCE"], rows), "", f"why {ranked[0].template}:"]
    lines += [f"  - {reason}" for reason in ranked[0].reasons]
    return "\n".join(lines)


def to_json_text(ranked: Sequence[Ranked]) -> str:
    """:func:`as_json`, serialised."""
    return json.dumps(as_json(ranked), indent=2)
