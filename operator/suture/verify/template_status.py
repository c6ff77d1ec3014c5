"""What a template's status says about its record: runs, effective rate, last outcome, and ``Failing``.

Written after every decided run, verified (by the Verifier) or failed and
rolled back (by the HistoryLearner), and always recomputed from the SQL
history, so a decision written twice cannot count twice. Whether a template
keeps failing is :func:`suture.store.keeps_failing`, the rule ``suture stats``
prints by: the same verdict becomes the ``Failing`` condition and the
``suture_template_failing`` metric. ``Failing`` is True with reason
``KeepsFailing`` and the evidence in its message, and turns False (reason
``NotFailing``) when later runs break the pattern.

A template's record is its runs in its own namespace (a ClusterWorkflowTemplate:
in every namespace; see :meth:`suture.store.History.template_record`), so two
teams' templates of one name never share a verdict. ``Failing`` is written
through :func:`suture.kube.write_condition`, as ``Valid`` is, so neither
writer drops the other's condition.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.api import API_VERSION, Condition, to_k8s
from suture.kube import KubeClient, write_condition
from suture.store import History, keeps_failing

FAILING = "Failing"
logger = logging.getLogger("suture.verify")


def failing_condition(outcomes: list[str], *, generation: int | None, now: datetime) -> dict[str, Any]:
    """The ``Failing`` condition for these outcomes (oldest first); a kept one keeps its transition time
    (:func:`suture.kube.merge_condition`)."""
    why = keeps_failing(outcomes)
    decided = [o for o in outcomes if o in ("Effective", "Ineffective")]
    effective = decided.count("Effective")
    if why is not None:
        status, reason = "True", "KeepsFailing"
        message = f"{why}; `suture stats` lists its runs. Check what its steps change, or lower its priority"
    else:
        status, reason = "False", "NotFailing"
        message = f"{effective} of {len(decided)} decided runs were Effective"
    condition = Condition(
        type=FAILING,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
    cluster = ref.get("kind") == "ClusterWorkflowTemplate"
    kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
    namespace = None if cluster else str((body.get("metadata") or {}).get("namespace", ""))
    record = await history.template_record(template, namespace=namespace)
    metrics.TEMPLATE_FAILING.labels(namespace or "", template).set(1 if keeps_failing(record.outcomes) else 0)
    effective = record.outcomes.count("Effective")
    ineffective = record.outcomes.count("Ineffective")
    stats: dict[str, Any] = {
        "runs": record.runs,
        "succeeded": effective,
        "failed": ineffective,
        "unknown": record.outcomes.count("Unknown"),
        "lastOutcome": outcome,
        "lastRunTime": (body.get("status") or {}).get("startTime"),
    }
    if effective + ineffective:
        stats["effectiveness"] = round(effective / (effective + ineffective), 4)
    moment = now or datetime.now(UTC)

    def build(current: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        generation = (current.get("metadata") or {}).get("generation")
        return failing_condition(record.outcomes, generation=generation, now=moment), {"stats": stats}

    await write_condition(kube, kind, template, namespace, api_version=API_VERSION, build=build)
