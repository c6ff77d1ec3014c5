"""Prometheus metrics of the operator (served on the port given to ``suture run``)."""

from __future__ import annotations

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
RUNS_WAITING_APPROVAL = Gauge("suture_runs_waiting_approval", "Runs paused for a person's decision.")
RUNS_REFUSED = Counter("suture_runs_refused_total", "Remediations refused before running, by reason.", ["reason"])
