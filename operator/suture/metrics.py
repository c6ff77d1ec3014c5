"""Prometheus metrics of the operator (served on the port given to ``suture run``)."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

RUNS_STARTED = Counter("suture_runs_started_total", "Remediation runs started.", ["template"])
RUNS_FINISHED = Counter(
    "suture_runs_finished_total", "Remediation runs that reached a terminal phase.", ["template", "phase"]
)
RUN_DURATION = Histogram(
    "suture_run_duration_seconds",
    "Wall time from a run's start to its terminal phase, approvals included.",
    ["template"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
STEPS_FINISHED = Counter(
    "suture_steps_finished_total", "Steps that finished, by outcome.", ["template", "step", "phase"]
)
STEP_DURATION = Histogram(
    "suture_step_duration_seconds",
    "Wall time of a step from its first attempt to its end.",
    ["template", "step"],
    buckets=(0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 600),
)
ACTION_DURATION = Histogram(
    "suture_action_duration_seconds",
    "Wall time of each action call a step makes (each attempt), by action: the step duration by action.",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
ACTION_ERRORS = Counter(
    "suture_action_errors_total",
    "Action calls that raised, by action and error category (transient, conflict, forbidden, ...).",
    ["action", "category"],
)
RUNS_WAITING_APPROVAL = Gauge("suture_runs_waiting_approval", "Runs paused for a person's decision.")
RUNS_REFUSED = Counter("suture_runs_refused_total", "Remediations refused before running, by reason.", ["reason"])

# The receiver and the operator around it.
ALERTS_RECEIVED = Counter(
    "suture_alerts_received_total",
    "Alerts received from Alertmanager, by alert status and what became of them.",
    ["status", "outcome"],
)
ALERTS_SUPPRESSED = Counter(
    "suture_alerts_suppressed_total",
    "Firing alerts the receiver answered without a new Remediation, by reason (Paused, Cooldown, TargetBusy, ...).",
    ["reason"],
)
WEBHOOK_DURATION = Histogram(
    "suture_webhook_request_duration_seconds",
    "Time to answer a webhook request, until every Remediation of it is stored.",
    ["code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REMEDIATIONS_CREATED = Counter(
    "suture_remediations_created_total", "Remediations the receiver created, by chosen template.", ["template"]
)
RECOMMENDATION_SCORE = Histogram(
    "suture_recommendation_score",
    "Ranking score of the template chosen for each created Remediation.",
    ["template"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
RUNS_ACTIVE = Gauge("suture_runs_active", "Runs holding an execution slot.")
RUNS_QUEUED = Gauge("suture_runs_queued", "Runs waiting for an execution slot.")
LEADER = Gauge("suture_leader", "1 when this replica executes runs (always 1 when standalone), else 0.")
VERIFICATIONS = Counter(
    "suture_verifications_total", "Verification outcomes of succeeded runs, by template.", ["template", "outcome"]
)
LEARNING_FAILURES = Counter(
    "suture_learning_failures_total", "Outcomes the recommender could not record (logged; the run is unaffected)."
)
TEMPLATE_FAILING = Gauge(
    "suture_template_failing",
    "1 while a template keeps failing (suture.store.keeps_failing over its decided runs), else 0; "
    "namespace is empty for a ClusterWorkflowTemplate.",
    ["namespace", "template"],
)
LIVE_CONTEXT_READS = Counter(
    "suture_live_context_reads_total",
    "Reads of an alert target's live context at receipt: read, none (nothing found) or failed (ranked without).",
    ["outcome"],
)
RANKER_FALLBACKS = Counter("suture_ranker_fallbacks_total", "Alerts ranked by priority because the recommender failed.")
WEBHOOK_IN_FLIGHT = Gauge("suture_webhook_in_flight", "Webhook requests being worked on.")
WEBHOOK_REJECTED_BUSY = Counter(
    "suture_webhook_rejected_busy_total", "Webhook requests answered 503 because the in-flight limit was reached."
)


class RunSlots(Protocol):
    """What the engine's concurrency limiter tells about its slots."""

    @property
    def active(self) -> int: ...

    @property
    def queued(self) -> int: ...


def watch_run_slots(slots: RunSlots) -> None:
    """Report ``suture_runs_active`` and ``suture_runs_queued`` from ``slots`` at every scrape."""
    RUNS_ACTIVE.set_function(lambda: slots.active)
    RUNS_QUEUED.set_function(lambda: slots.queued)
