"""Logging: one logger per run, bound to its Remediation, and a JSON format for log pipelines.

Every line about a run carries the Remediation (``namespace/name``), the run
id and, where there is one, the step, both in the text and as structured
fields, so ``suture run -v`` reads as the story of each run and a JSON log
pipeline can filter by Remediation. Alert text is never logged here: labels
are untrusted and may hold what their owners consider secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

RUN_FIELDS = ("remediation", "run_id", "step")


class RunLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for one run: prefixes ``[namespace/name]`` (and the step) and adds them as fields."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Add the run's fields to the record and its name to the text."""
        fields = dict(self.extra or {})
        extra = {**fields, **kwargs.get("extra", {})}
        kwargs["extra"] = extra
        where = str(extra.get("remediation") or extra.get("run_id") or "")
        step = extra.get("step")
        prefix = f"[{where}]" + (f" step {step}:" if step else "")
        return f"{prefix} {msg}", kwargs

    def for_step(self, step: str) -> RunLogger:
        """The same run's logger, naming ``step``."""
        return RunLogger(self.logger, {**(self.extra or {}), "step": step})


def run_logger(run: Mapping[str, Any]) -> RunLogger:
    """The logger of a run, from its checkpointed settings (``RunState['run']``)."""
    return RunLogger(
        logging.getLogger("suture.run"),
        {"remediation": str(run.get("remediation") or ""), "run_id": str(run.get("id") or "")},
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the run's fields, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in RUN_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json_lines() -> None:
    """Switch every handler of the root logger (kopf sets them up) to JSON lines."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())


STAGES = logging.getLogger("suture.stages")
"""Where an alert's way to its first action is timed (``SUTURE_TRACE_STAGES``): off, and free, by default."""


def mark_stage(stage: str, remediation: str, *, at: float | None = None) -> None:
    """Log that the Remediation ``remediation`` (``namespace/name``, or the name alone before it has a
    namespace) reached ``stage``, with the wall-clock time, when stage tracing is on.

    Wall-clock so that the marks of several processes on one machine (the benchmark, the operator) line
    up; a DEBUG line of its own logger, so nothing is formatted unless someone asked for it.
    """
    if STAGES.isEnabledFor(logging.DEBUG):
        STAGES.debug("stage %s %s %.6f", stage, remediation, time.time() if at is None else at)
