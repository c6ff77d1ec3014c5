"""Outcomes are learned on the live context the alert was ranked with, read back from its Remediation,
so a process that never ranked the alert (a restarted operator) learns the same lesson, and it survives
the next restart; the SQL history keeps the same features."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suture.recommend import Context, Recommender
from suture.runs import alert_of
from suture.store import History, open_database
from suture.verify import RecommenderLearner
from suture.verify.record import keep_run
from tests.fakes.objects import remediation
from tests.unit.recommend.conftest import alert

OOM = {"terminationReason": "OOMKilled", "exitCode": 137, "restarts": 6}
CRASHED = {"terminationReason": "Error", "exitCode": 1, "restarts": 6}
CANDIDATES = ["restart", "raise-memory"]


def decided(template: str, context: dict[str, Any] | None, pod: str) -> dict[str, Any]:
    """A Remediation as the verifier reads it: ranked with ``context`` (stored with its weights)."""
    body = remediation(template=template, labels={"pod": pod})
    body["metadata"]["uid"] = str(uuid.uuid4())
    body["spec"]["alert"]["fingerprint"] = uuid.uuid4().hex[:16]
    recommendation: dict[str, Any] = {"template": template, "score": 0.5}
    if context is not None:
        recommendation["context"] = {**context, "features": [{"feature": "reason=x", "weight": 1.0}]}
    body["status"] = {"recommendation": recommendation}
    return body


async def teach(recommender: Recommender) -> None:
    """raise-memory fixes OOM kills, restart fixes crashes; the same words and labels otherwise."""
    learner = RecommenderLearner(recommender)
    for n in range(6):
        for template, context, outcome in (
            ("raise-memory", OOM, "Effective"),
            ("restart", OOM, "Ineffective"),
            ("raise-memory", CRASHED, "Ineffective"),
            ("restart", CRASHED, "Effective"),
        ):
            body = decided(template, context, pod=f"web-5d8f7c9b4-{n:05d}")
            await learner.record(
                alert=alert_of(body), template=template, outcome=outcome, run_id=body["metadata"]["uid"]
            )


def best(recommender: Recommender, context: dict[str, Any]) -> str:
    return recommender.rank(alert(pod="web-5d8f7c9b4-zzzzz"), CANDIDATES, context=Context.from_dict(context))[
        0
    ].template


def test_alert_of_carries_the_ranked_context_without_its_weights() -> None:
    carried = alert_of(decided("restart", OOM, pod="web-1"))
    assert carried["liveContext"] == OOM
    assert Context.carried_by(carried) == Context(termination_reason="OOMKilled", exit_code=137, restarts=6)
    assert "liveContext" not in alert_of(decided("restart", None, pod="web-1"))


async def test_outcomes_learned_from_remediations_tell_contexts_apart_and_survive_a_restart(tmp_path: Path) -> None:
    first = Recommender.open(data_dir=tmp_path)
    await teach(first)  # this process never ranked these alerts: the context comes from their status
    assert (best(first, OOM), best(first, CRASHED)) == ("raise-memory", "restart")
    first.close()
    again = Recommender.open(data_dir=tmp_path)
    assert (best(again, OOM), best(again, CRASHED)) == ("raise-memory", "restart")
    (ranked, *_) = again.rank(alert(pod="web-5d8f7c9b4-yyyyy"), CANDIDATES, context=Context.from_dict(OOM))
    assert dict(ranked.context)["ctx:reason=OOMKilled"] > 0
    again.close()


async def test_without_the_stored_context_the_same_outcomes_cannot_tell_the_causes_apart() -> None:
    blind = Recommender.in_memory(seed=1)
    learner = RecommenderLearner(blind)
    for n in range(6):
        for template, context, outcome in (
            ("raise-memory", OOM, "Effective"),
            ("restart", OOM, "Ineffective"),
            ("raise-memory", CRASHED, "Ineffective"),
            ("restart", CRASHED, "Effective"),
        ):
            body = decided(template, context, pod=f"web-5d8f7c9b4-{n:05d}")
            del body["status"]["recommendation"]["context"]
            await learner.record(
                alert=alert_of(body), template=template, outcome=outcome, run_id=body["metadata"]["uid"]
            )
    scores = [
        {r.template: r.mean for r in blind.rank(alert(), CANDIDATES, context=Context.from_dict(c))}
        for c in (OOM, CRASHED)
    ]
    assert scores[0]["raise-memory"] - scores[0]["restart"] < 0.1  # a coin toss: the context was never learned
    assert scores[1]["restart"] - scores[1]["raise-memory"] < 0.1


async def test_the_sql_history_keeps_the_context_features(tmp_path: Path) -> None:
    body = decided("raise-memory", OOM, pod="web-5d8f7c9b4-abcde")
    body["status"]["startTime"] = "2026-11-29T06:00:00Z"
    async with open_database(location=str(tmp_path / "suture.sqlite")) as database:
        history = History(database)
        await keep_run(history, body, phase="Succeeded", outcome="Effective", decided_at=datetime.now(UTC), message="")
        kept = await history.run(body["metadata"]["uid"])
    assert kept is not None
    assert {"ctx:reason=OOMKilled", "ctx:exit=137", "ctx:restarts=4-10", "alert=KubePodCrashLooping"} <= set(
        kept["features"]
    )


def test_suture_recommend_replays_an_alert_with_its_stored_context() -> None:
    from suture.recommend.report import recommend

    replayed = {**alert(), "liveContext": OOM}
    (ranked, *_) = recommend(alert=replayed, templates=[], names=CANDIDATES, data_dir=None)
    assert any(
        r == "live context: reason=OOMKilled (1.00), exit=137 (1.00), restarts=4-10 (1.00)" for r in ranked.reasons
    )
