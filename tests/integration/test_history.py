"""SQL history and migrations against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from suture.cli import main
from suture.stats import slow_steps
from suture.store import History, RunRecord, SqlJournal, StepRecord, async_url, keeps_failing, open_database
from suture.store.db import metadata
from suture.store.journal import effects
from suture.store.migrate import alembic_config, current_revision
from suture.verify import HistoryLearner

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest revision, whichever it is
T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "suture.sqlite")
    server: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
async def history(location: str) -> AsyncIterator[History]:
    async with open_database(location=location) as engine:
        yield History(engine)


def run(
    run_id: str, *, template: str = "restart-pod", started: datetime = T0, phase: str = "Succeeded", **extra: object
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        alert_name="KubePodCrashLooping",
        fingerprint="fp-" + run_id,
        template=template,
        phase=phase,
        started_at=started,
        labels={"alertname": "KubePodCrashLooping", "pod": "web-1"},
        annotations={"description": "crash looping"},
        features=("alert=KubePodCrashLooping", "ctx:reason=OOMKilled"),
        target="Deployment/shop/web",
        **extra,  # type: ignore[arg-type]
    )


async def test_migrations_run_at_start_up_and_again_change_nothing(location: str) -> None:
    for _ in range(2):
        async with open_database(location=location) as engine, engine.connect() as conn:
            assert await conn.run_sync(current_revision) == HEAD


async def test_the_migrated_schema_matches_the_table_declarations(location: str) -> None:
    def differences(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with open_database(location=location) as engine, engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_a_database_made_before_migrations_keeps_its_journal(location: str) -> None:
    # What open_database did before alembic: create_all of the journal's table.
    engine = create_async_engine(async_url(location))
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: effects.create(c))
        await conn.execute(effects.insert().values(run_id="old-run", key="k", value='{"done": true}'))
    await engine.dispose()
    async with open_database(location=location) as migrated:
        assert await SqlJournal(migrated).get(run_id="old-run", key="k") == {"done": True}
        async with migrated.connect() as conn:
            assert await conn.run_sync(current_revision) == HEAD
            assert (await conn.execute(text("SELECT count(*) FROM suture_runs"))).scalar() == 0


async def test_a_run_with_steps_and_outcome_reads_back(history: History) -> None:
    await history.record_run(run("r1", score=0.81, finished_at=T0 + timedelta(seconds=40)))
    await history.record_step(
        StepRecord(run_id="r1", step="collect", phase="Succeeded", action="collect_diagnostics", started_at=T0)
    )
    await history.record_step(
        StepRecord(
            run_id="r1",
            step="rollback",
            phase="Succeeded",
            action="rollout_undo",
            attempts=2,
            started_at=T0 + timedelta(seconds=1),
        )
    )
    await history.record_outcome(
        run_id="r1", outcome="Effective", decided_at=T0 + timedelta(minutes=3), resolved_after_seconds=95.0
    )
    stored = await history.run("r1")
    assert stored is not None
    assert stored["labels"] == {"alertname": "KubePodCrashLooping", "pod": "web-1"}
    assert stored["features"] == ["alert=KubePodCrashLooping", "ctx:reason=OOMKilled"]
    assert stored["score"] == pytest.approx(0.81)
    assert [s["step"] for s in stored["steps"]] == ["collect", "rollback"]
    assert stored["steps"][1]["attempts"] == 2
    assert stored["outcome"]["outcome"] == "Effective"
    assert stored["outcome"]["resolved_after_seconds"] == pytest.approx(95.0)
    assert await history.run("nope") is None


async def test_recording_twice_updates_rather_than_duplicates(history: History) -> None:
    await history.record_run(run("r1", template="t"))
    await history.record_run(RunRecord(**{**run("r1", template="t").__dict__, "phase": "Failed"}))
    await history.record_outcome(run_id="r1", outcome="Unknown", decided_at=T0)
    await history.record_outcome(run_id="r1", outcome="Ineffective", decided_at=T0)
    stored = await history.run("r1")
    assert stored is not None
    assert stored["phase"] == "Failed"
    assert stored["outcome"]["outcome"] == "Ineffective"
    assert [(s.runs, s.ineffective) for s in await history.stats()] == [(1, 1)]


async def test_stats_per_template_and_alert_name(history: History) -> None:
    for i, (template, outcome, secs) in enumerate(
        [
            ("a", "Effective", 30.0),
            ("a", "Effective", 90.0),
            ("a", "Ineffective", None),
            ("a", "Unknown", None),
            ("b", "Effective", 10.0),
        ]
    ):
        await history.record_run(run(f"r{i}", template=template))
        await history.record_outcome(run_id=f"r{i}", outcome=outcome, decided_at=T0, resolved_after_seconds=secs)
    await history.record_run(run("pending", template="b"))
    rows = {s.template: s for s in await history.stats()}
    assert (rows["a"].runs, rows["a"].effective, rows["a"].ineffective, rows["a"].unknown) == (4, 2, 1, 1)
    assert rows["a"].median_resolve_seconds == pytest.approx(60.0)
    assert (rows["b"].runs, rows["b"].effective) == (2, 1)


async def test_runs_since_counts_by_template_and_target(history: History) -> None:
    await history.record_run(run("old", started=T0 - timedelta(hours=2)))
    await history.record_run(run("new1", started=T0))
    await history.record_run(run("new2", template="other", started=T0 + timedelta(minutes=1)))
    since = T0 - timedelta(hours=1)
    assert await history.runs_since(since=since) == 2
    assert await history.runs_since(since=since, template="restart-pod") == 1
    assert await history.runs_since(since=since, target="Deployment/shop/web") == 2
    assert await history.runs_since(since=since, target="Deployment/shop/other") == 0


async def test_an_unknown_outcome_word_is_refused(history: History) -> None:
    await history.record_run(run("r1"))
    with pytest.raises(ValueError, match="outcome must be"):
        await history.record_outcome(run_id="r1", outcome="Resolved", decided_at=T0)


async def test_each_run_keeps_its_template_version_and_an_edit_erases_nothing(history: History) -> None:
    await history.record_run(run("v1", template_generation=1, template_hash="aaaa", attempts=1))
    await history.record_run(run("v2", template_generation=2, template_hash="bbbb", attempts=2))
    await history.record_outcome(run_id="v1", outcome="Ineffective", decided_at=T0)
    await history.record_outcome(run_id="v2", outcome="Effective", decided_at=T0, resolved_after_seconds=30.0)
    stored = await history.run("v2")
    assert stored is not None
    assert (stored["template_generation"], stored["template_hash"], stored["attempts"]) == (2, "bbbb", 2)
    (whole,) = await history.stats()  # learned under the template's name: the edit erased nothing
    assert (whole.runs, whole.effective, whole.ineffective) == (2, 1, 1)
    versions = await history.stats(by_version=True)
    assert [(s.version, s.effective, s.ineffective) for s in versions] == [("aaaa", 0, 1), ("bbbb", 1, 0)]


async def test_slow_steps_failing_templates_and_recent_runs_read_back(history: History) -> None:
    # Two runs of "rollback": its "wait" step takes 30 of 40 s, "collect" 2 s.
    for i in range(2):
        start = T0 + timedelta(minutes=10 * i)
        await history.record_run(
            run(f"r{i}", template="rollback", started=start, finished_at=start + timedelta(seconds=40))
        )
        for step, action, offset, seconds in (("collect", "collect_diagnostics", 0, 2), ("wait", "wait", 5, 30)):
            await history.record_step(
                StepRecord(
                    run_id=f"r{i}",
                    step=step,
                    phase="Succeeded",
                    action=action,
                    started_at=start + timedelta(seconds=offset),
                    finished_at=start + timedelta(seconds=offset + seconds),
                )
            )
        await history.record_outcome(run_id=f"r{i}", outcome="Ineffective", decided_at=start + timedelta(minutes=5))
    await history.record_run(run("r2", template="rollback", started=T0 + timedelta(minutes=30)))
    await history.record_outcome(run_id="r2", outcome="Ineffective", decided_at=T0 + timedelta(minutes=35))
    timings = await history.step_timings()
    assert sorted((t.step, t.action, t.seconds, t.run_seconds) for t in timings) == [
        ("collect", "collect_diagnostics", 2.0, 40.0),
        ("collect", "collect_diagnostics", 2.0, 40.0),
        ("wait", "wait", 30.0, 40.0),
        ("wait", "wait", 30.0, 40.0),
    ]
    slow = slow_steps(timings)
    assert [(s.template, s.step, s.runs, s.share) for s in slow] == [("rollback", "wait", 2, 0.75)]
    by_template = await history.outcomes_by_template()
    assert by_template == {("", "rollback"): ["Ineffective"] * 3}  # runs recorded without a namespace
    assert keeps_failing(by_template[("", "rollback")]) is not None
    recent = await history.recent(limit=2)
    assert [r["run_id"] for r in recent] == ["r2", "r1"]
    assert recent[0]["outcome"] == "Ineffective"
    assert [r["run_id"] for r in await history.recent(template="other")] == []


async def test_a_failed_run_is_kept_with_its_steps_by_the_history_learner(location: str) -> None:
    told: list[tuple[str, str]] = []

    class Inner:
        async def record(self, *, alert: Any, template: str, outcome: str, run_id: str, **_: Any) -> None:
            told.append((template, outcome))

    body = {
        "metadata": {"name": "rem-1", "namespace": "shop", "uid": "uid-1"},
        "spec": {
            "templateRef": {"name": "restart-pod"},
            "alert": {"labels": {"alertname": "KubePodCrashLooping"}, "fingerprint": "abc"},
        },
        "status": {
            "phase": "RolledBack",
            "startTime": "2026-11-29T06:00:00Z",
            "completionTime": "2026-11-29T06:00:20Z",
            "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "steps": [
                {
                    "name": "restart",
                    "phase": "Failed",
                    "attempts": 3,
                    "startTime": "2026-11-29T06:00:01Z",
                    "endTime": "2026-11-29T06:00:19Z",
                },
            ],
        },
    }
    async with open_database(location=location) as engine:
        learner = HistoryLearner(history=History(engine), inner=Inner())
        for _ in range(2):  # a repeat changes nothing
            await learner.record(
                alert={},
                template="restart-pod",
                outcome="Ineffective",
                run_id="uid-1",
                remediation=body,
                phase="RolledBack",
            )
        stored = await History(engine).run("uid-1")
        stats = await History(engine).stats()
    assert told == [("restart-pod", "Ineffective")] * 2
    assert stored is not None
    assert (stored["phase"], stored["target"], stored["outcome"]["outcome"]) == (
        "RolledBack",
        "Deployment/shop/web",
        "Ineffective",
    )
    assert [(s["step"], s["phase"], s["attempts"]) for s in stored["steps"]] == [("restart", "Failed", 3)]
    assert [(s.template, s.runs, s.ineffective) for s in stats] == [("restart-pod", 1, 1)]


def test_suture_stats_and_history_print_tables_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    async def fill() -> None:
        async with open_database(location=str(tmp_path / "suture.sqlite")) as engine:
            h = History(engine)
            for i, outcome in enumerate(["Effective", "Effective", "Ineffective", "Unknown"]):
                await h.record_run(run(f"r{i}", started=T0 + timedelta(minutes=i)))
                await h.record_outcome(
                    run_id=f"r{i}",
                    outcome=outcome,
                    decided_at=T0 + timedelta(minutes=i, seconds=30),
                    resolved_after_seconds=60.0 + i if outcome == "Effective" else None,
                )

    asyncio.run(fill())
    assert main(["stats", "--data-dir", str(tmp_path), "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [row] = report["templates"]
    assert (row["runs"], row["effective"], row["ineffective"], row["unknown"]) == (4, 2, 1, 1)
    assert row["effectiveRate"] == pytest.approx(2 / 3, abs=1e-4)
    low, high = row["interval"]
    assert 0 < low < 2 / 3 < high < 1
    assert row["medianResolveSeconds"] == pytest.approx(60.5)
    assert report["failing"] == []
    assert main(["stats", "--database-url", str(tmp_path / "suture.sqlite")]) == 0
    table = capsys.readouterr().out
    assert "restart-pod" in table
    assert "67%" in table
    assert "MEDIAN RESOLVE" in table
    assert "NAMESPACE" in table
    assert row["namespace"] == ""  # recorded without one: shown as "-"
    assert main(["history", "--data-dir", str(tmp_path), "--limit", "2", "--output", "json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["r3", "r2"]
    assert main(["history", "--data-dir", str(tmp_path)]) == 0
    assert "Ineffective" in capsys.readouterr().out


async def test_recent_starts_count_a_templates_runs_and_find_the_last_on_a_target(history: History) -> None:
    # What cooldowns and hourly budgets read (suture.runs.safety), on both backends.
    def start(run_id: str, minutes_ago: int, **extra: Any) -> RunRecord:
        fields: dict[str, Any] = {"namespace": "shop", "remediation": f"rem-{run_id}", "target_uid": "uid-web"}
        return run(run_id, started=T0 - timedelta(minutes=minutes_ago), **(fields | extra))

    for record in (
        start("a", 5),
        start("b", 20, target_uid="uid-other"),
        start("c", 90),
        start("d", 3, namespace="billing"),
        start("e", 2, template="other"),
    ):
        await history.record_start(record)
    hour = T0 - timedelta(hours=1)
    found = await history.recent_starts(
        template="restart-pod", namespace="shop", since=hour, target_uid="uid-web", target_since=T0 - timedelta(hours=2)
    )
    assert found.started == 2
    assert found.last_on_target is not None
    assert (found.last_on_target.remediation, found.last_on_target.started_at) == ("rem-a", T0 - timedelta(minutes=5))
    everywhere = await history.recent_starts(template="restart-pod", namespace=None, since=hour, exclude_run_id="a")
    assert (everywhere.started, everywhere.last_on_target) == (2, None)
    none_near = await history.recent_starts(
        template="restart-pod",
        namespace="shop",
        since=hour,
        target_uid="uid-web",
        target_since=T0 - timedelta(minutes=4),
    )
    assert none_near.last_on_target is None


async def test_a_start_replayed_after_the_decision_changes_nothing(history: History) -> None:
    await history.record_start(run("r1", phase="Running", target_uid="uid-web"))
    await history.record_run(run("r1", phase="Succeeded", target_uid="uid-web", finished_at=T0 + timedelta(minutes=1)))
    await history.record_start(run("r1", phase="Running", target_uid="uid-web"))
    stored = await history.run("r1")
    assert stored is not None
    assert (stored["phase"], stored["target_uid"]) == ("Succeeded", "uid-web")


async def test_a_templates_record_is_its_own_namespaces_runs(history: History) -> None:
    """Two teams' templates of one name keep two records; a ClusterWorkflowTemplate (None) counts every
    namespace, and rows from before the history kept a namespace count only there."""
    for i, (namespace, outcome) in enumerate([("shop", "Ineffective")] * 3 + [("blog", "Effective"), ("", "Unknown")]):
        await history.record_run(run(f"r{i}", started=T0 + timedelta(minutes=i), namespace=namespace))
        await history.record_outcome(run_id=f"r{i}", outcome=outcome, decided_at=T0 + timedelta(minutes=10 - i))
    await history.record_run(run("undecided", namespace="blog", started=T0 + timedelta(hours=1)))
    shop = await history.template_record("restart-pod", namespace="shop")
    assert (shop.runs, shop.outcomes) == (3, ["Ineffective"] * 3)
    assert keeps_failing(shop.outcomes) is not None
    blog = await history.template_record("restart-pod", namespace="blog")
    assert (blog.runs, blog.outcomes) == (2, ["Effective"])  # the undecided run counts as a run, not an outcome
    cluster = await history.template_record("restart-pod", namespace=None)
    # Every namespace and the old row, oldest decision first (r4 was decided first, r0 last).
    assert (cluster.runs, cluster.outcomes) == (
        6,
        ["Unknown", "Effective", "Ineffective", "Ineffective", "Ineffective"],
    )
    assert (await history.template_record("other", namespace="shop")).runs == 0
    # suture stats: the same rows per namespace, and the failing verdict per namespace too.
    assert {(s.namespace, s.runs) for s in await history.stats()} == {("shop", 3), ("blog", 2), ("", 1)}
    failing = {key for key, seen in (await history.outcomes_by_template()).items() if keeps_failing(seen)}
    assert failing == {("shop", "restart-pod")}
