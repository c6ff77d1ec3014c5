"""`suture run -v` tells the story of a run: one logger per run, bound to its Remediation; JSON lines on request."""

from __future__ import annotations

import json
import logging

import pytest

from suture.engine import Engine, RunRequest
from suture.logs import JsonFormatter, run_logger
from tests.unit.engine.fakes import rec, template


async def test_a_run_logs_its_steps_retries_and_rollback_under_its_remediation(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = {"name": "flaky", "failures": 1, "category": "transient"}
    spec = template(
        rec("first"),
        {"name": "shaky", "retry": {"limit": 2, "backoff": "1ms"}, "action": {"name": "flaky", "params": flaky}},
        {
            "name": "broken",
            "onFailure": "rollback",
            "action": {"name": "flaky", "params": {"name": "broken", "failures": 9, "category": "invalid"}},
        },
    )
    with caplog.at_level(logging.INFO, logger="suture.run"):
        await engine.start(request=RunRequest(run_id="log-1", template=spec, remediation="shop/crashloop-1a2b"))
    lines = [r.getMessage() for r in caplog.records if r.name == "suture.run"]
    assert "[shop/crashloop-1a2b] step first: started (action)" in lines
    assert any(line.startswith("[shop/crashloop-1a2b] step shaky: attempt 1 failed (transient)") for line in lines)
    assert any("step broken: failed after 1 attempt(s) (invalid)" in line for line in lines)
    assert any(line.startswith("[shop/crashloop-1a2b] rolling back 1 change(s): first") for line in lines)
    assert any(line.startswith("[shop/crashloop-1a2b] run RolledBack") for line in lines)
    assert all(getattr(r, "remediation", "") == "shop/crashloop-1a2b" for r in caplog.records if r.name == "suture.run")


def test_json_lines_carry_the_run_fields() -> None:
    log = run_logger({"id": "uid-1", "remediation": "shop/r1"}).for_step("scale")
    record: logging.LogRecord | None = None

    class Keep(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            nonlocal record
            record = rec

    handler = Keep()
    log.logger.addHandler(handler)
    try:
        log.warning("failed: %s", "boom")
    finally:
        log.logger.removeHandler(handler)
    assert record is not None
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "[shop/r1] step scale: failed: boom"
    assert (line["remediation"], line["run_id"], line["step"], line["level"]) == (
        "shop/r1",
        "uid-1",
        "scale",
        "warning",
    )


def test_suture_run_log_format_json_turns_every_line_into_an_object() -> None:
    import io

    from suture.logs import use_json_lines

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        use_json_lines()
        run_logger({"id": "uid-2", "remediation": "shop/r2"}).warning("run Failed: boom")
        logging.getLogger("kopf.objects").warning("Handler failed")
    finally:
        root.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["remediation"], first["run_id"], first["message"]) == (
        "shop/r2",
        "uid-2",
        "[shop/r2] run Failed: boom",
    )
    assert (second["logger"], second["message"]) == ("kopf.objects", "Handler failed")


async def test_stage_marks_time_a_run_to_its_first_action_only_when_asked(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    spec = template(rec("first"), rec("second"))
    with caplog.at_level(logging.INFO):  # tracing off: the stage logger stays quiet
        await engine.start(request=RunRequest(run_id="quiet-1", template=spec, remediation="shop/r-quiet"))
    assert not [r for r in caplog.records if r.name == "suture.stages"]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="suture.stages"):
        await engine.start(request=RunRequest(run_id="traced-1", template=spec, remediation="shop/r-traced"))
    marks = [r.getMessage().split() for r in caplog.records if r.name == "suture.stages"]
    assert [m[1] for m in marks] == ["invoked", "action_called", "action_applied", "action_called", "action_applied"]
    assert {m[2] for m in marks} == {"traced-1", "shop/r-traced"}
    times = [float(m[3]) for m in marks]
    assert times == sorted(times)  # wall-clock, so a benchmark can line them up with its own and Alertmanager's
