"""The rules behind ``suture stats``: the Wilson interval, "keeps failing", and slow steps."""

from __future__ import annotations

import pytest

from suture.stats import slow_steps
from suture.store import StepTiming, keeps_failing, wilson_interval


def test_the_wilson_interval_stays_within_0_and_1_and_narrows_with_runs() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(1, 1)
    assert 0.0 < low < 1.0
    assert high == pytest.approx(1.0)
    few, many = wilson_interval(3, 4), wilson_interval(75, 100)
    assert few[1] - few[0] > many[1] - many[0]
    assert many[0] < 0.75 < many[1]
    assert wilson_interval(75, 100) == pytest.approx((0.6569, 0.8245), abs=1e-3)  # the textbook figures


def test_keeps_failing_after_three_ineffective_in_a_row_unknowns_skipped() -> None:
    assert keeps_failing([]) is None
    assert keeps_failing(["Ineffective", "Ineffective"]) is None
    assert keeps_failing(["Effective", "Ineffective", "Unknown", "Ineffective", "Ineffective"]) is not None
    assert keeps_failing(["Ineffective", "Ineffective", "Ineffective", "Effective"]) is None


def test_keeps_failing_when_the_rate_is_surely_below_a_half() -> None:
    outcomes = [
        "Effective",
        "Ineffective",
        "Ineffective",
        "Effective",
        *(["Ineffective", "Ineffective", "Effective"] * 4),
    ]
    assert outcomes[-1] == "Effective"
    assert keeps_failing(outcomes) is None  # 6 of 16: the interval still reaches one half
    worse = ["Ineffective", "Ineffective", "Ineffective", "Effective"] * 8
    reason = keeps_failing(worse)
    assert reason is not None
    assert "8 of 32" in reason


def test_a_step_over_30_percent_of_its_runs_time_is_slow() -> None:
    timings = [
        StepTiming(run_id="a", template="t", step="wait", action="wait", seconds=31.0, run_seconds=100.0),
        StepTiming(run_id="b", template="t", step="wait", action="wait", seconds=30.0, run_seconds=100.0),
        StepTiming(run_id="a", template="t", step="patch", action="patch", seconds=29.0, run_seconds=100.0),
        StepTiming(run_id="c", template="u", step="zero", action="x", seconds=0.0, run_seconds=0.0),
    ]
    [slow] = slow_steps(timings)
    assert (slow.template, slow.step, slow.runs, slow.share, slow.median_seconds) == ("t", "wait", 2, 0.305, 30.5)
