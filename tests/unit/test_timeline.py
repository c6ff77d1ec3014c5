"""The run timeline ``suture status`` prints."""

from __future__ import annotations

from suture.timeline import render_timeline

REMEDIATION = {
    "metadata": {"namespace": "shop", "name": "crashloop-6f1a"},
    "spec": {"templateRef": {"name": "pod-crashlooping"}, "alert": {"name": "KubePodCrashLooping"}},
    "status": {
        "phase": "Succeeded",
        "startTime": "2026-11-23T20:00:00Z",
        "completionTime": "2026-11-23T20:02:00Z",
        "approval": {"decision": "Approved", "by": "alice", "at": "2026-11-23T20:01:00Z", "reason": "ok"},
        "steps": [
            {
                "name": "collect",
                "phase": "Succeeded",
                "attempts": 1,
                "startTime": "2026-11-23T20:00:00Z",
                "endTime": "2026-11-23T20:00:06Z",
                "message": "stored suture-diag-1",
            },
            {
                "name": "ask",
                "phase": "Succeeded",
                "attempts": 1,
                "startTime": "2026-11-23T20:00:06Z",
                "endTime": "2026-11-23T20:01:00Z",
            },
            {
                "name": "rollback",
                "phase": "Succeeded",
                "attempts": 2,
                "startTime": "2026-11-23T20:01:00Z",
                "endTime": "2026-11-23T20:02:00Z",
                "message": "rolled back to revision 1",
            },
            {"name": "restart", "phase": "Skipped", "attempts": 0},
        ],
    },
}


def test_header_names_everything_a_person_asks_first() -> None:
    text = render_timeline(REMEDIATION)
    assert "remediation shop/crashloop-6f1a" in text
    assert "template:  pod-crashlooping" in text
    assert "phase:     Succeeded" in text
    assert "approval:  Approved by alice at 2026-11-23T20:01:00Z: ok" in text


def test_steps_are_placed_on_the_run_timeline() -> None:
    lines = render_timeline(REMEDIATION).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("STEP"))
    rows = {line.split()[0]: line for line in lines[header + 1 :]}
    assert "+0s" in rows["collect"]
    assert "6s" in rows["collect"]
    assert "+1m00s" in rows["rollback"]
    assert "1m00s" in rows["rollback"]
    # The rollback spans the last half of the run: its bar starts mid-way.
    bar_start = lines[header].index("TIMELINE")
    assert rows["rollback"][bar_start : bar_start + 24].startswith(" " * 12 + "█")
    assert rows["collect"][bar_start] == "█"
    assert "Skipped" in rows["restart"]


def test_no_steps_yet() -> None:
    assert "no step has run yet" in render_timeline({"metadata": {"name": "r"}, "spec": {}, "status": {}})
