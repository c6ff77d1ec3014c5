"""What a template's status says about its record: runs, effective rate, last outcome, and ``Failing``.

Written after every decided run, verified (by the Verifier) or failed and
rolled back (by the HistoryLearner), and always recomputed from the SQL
history, so a decision written twice cannot count twice. Whether a template
keeps failing is :func:`suture.store.keeps_failing`, the rule ``suture stats``
prints by: the same verdict becomes the ``Failing`` condition and the
``suture_template_failing`` metric. ``Failing`` is True with reason
``KeepsFailing`` and the evidence in its message, and turns False (reason
``NotFailing``) when later runs break the pattern.

Templates are counted by name across namespaces, as the history keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.api import API_VERSION, Condition, to_k8s
from suture.kube import ApiError, KubeClient
from suture.store import History, keeps_failing

FAILING = "Failing"
_ATTEMPTS = 3  # compare-and-swap attempts against the Valid condition's writer
logger = logging.getLogger("suture.verify")


def failing_condition(
    outcomes: list[str], *, previous: Mapping[str, Any] | None, generation: int | None, now: datetime
) -> dict[str, Any]:
    """The ``Failing`` condition for these outcomes (oldest first); its transition time kept while unchanged."""
    why = keeps_failing(outcomes)
    decided = [o for o in outcomes if o in ("Effective", "Ineffective")]
    effective = decided.count("Effective")
    if why is not None:
        status, reason = "True", "KeepsFailing"
        message = f"{why}; `suture stats` lists its runs. Check what its steps change, or lower its priority"
    else:
        status, reason = "False", "NotFailing"
        message = f"{effective} of {len(decided)} decided runs were Effective"
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        stamp = str(previous["lastTransitionTime"])
    condition = Condition(
        type=FAILING,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=stamp,
    )
    return to_k8s(condition)


async def refresh_template_status(
    *, kube: KubeClient, history: History, body: Mapping[str, Any], outcome: str, now: datetime | None = None
) -> None:
    """Recompute the stats and ``Failing`` of the template that Remediation ``body`` ran, and write them.

    Sets ``suture_template_failing`` too. A template deleted meanwhile is left
    alone; other API errors raise (the caller logs them: the outcome itself is
    already recorded).
    """
    ref = (body.get("spec") or {}).get("templateRef") or {}
    template = str(ref.get("name", ""))
    outcomes = (await history.outcomes_by_template()).get(template, [])
    metrics.TEMPLATE_FAILING.labels(template).set(1 if keeps_failing(outcomes) else 0)
    rows = [row for row in await history.stats() if row.template == template]
    effective = sum(row.effective for row in rows)
    ineffective = sum(row.ineffective for row in rows)
    stats: dict[str, Any] = {
        "runs": sum(row.runs for row in rows),
        "succeeded": effective,
        "failed": ineffective,
        "unknown": sum(row.unknown for row in rows),
        "lastOutcome": outcome,
        "lastRunTime": (body.get("status") or {}).get("startTime"),
    }
    if effective + ineffective:
        stats["effectiveness"] = round(effective / (effective + ineffective), 4)
    cluster = ref.get("kind") == "ClusterWorkflowTemplate"
    kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
    namespace = None if cluster else str((body.get("metadata") or {}).get("namespace", ""))
    for attempt in range(_ATTEMPTS):
        current = await kube.get_or_none(kind, template, namespace, api_version=API_VERSION)
        if current is None:
            return
        meta = current.get("metadata") or {}
        conditions = [c for c in ((current.get("status") or {}).get("conditions") or []) if isinstance(c, dict)]
        previous = next((c for c in conditions if c.get("type") == FAILING), None)
        failing = failing_condition(
            outcomes, previous=previous, generation=meta.get("generation"), now=now or datetime.now(UTC)
        )
        # The conditions list is replaced whole by a merge patch: keep the others (Valid), and let the
        # resourceVersion make it a compare-and-swap so a concurrent Valid write is never lost.
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "status": {"stats": stats, "conditions": [*(c for c in conditions if c.get("type") != FAILING), failing]},
        }
        try:
            await kube.patch(kind, template, patch, namespace, subresource="status", api_version=API_VERSION)
            return
        except ApiError as exc:
            if exc.not_found:
                return
            if not exc.conflict or attempt == _ATTEMPTS - 1:
                raise
            logger.debug("template %s changed while its status was written; reading it again", template)
