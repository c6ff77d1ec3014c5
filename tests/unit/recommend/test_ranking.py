"""Ranking: cold start, learning from outcomes, determinism, explanations."""

from __future__ import annotations

import asyncio

import pytest

from suture.api import WorkflowTemplate
from suture.recommend import Candidate, Context, Policy, Recommender, recommendation
from tests.unit.recommend.conftest import alert

CANDIDATES = ["restart-pod", "rollback-bad-rollout", "increase-memory-limit"]


def names(ranked: list) -> list[str]:  # type: ignore[type-arg]
    return [r.template for r in ranked]


def test_cold_start_keeps_declared_order() -> None:
    r = Recommender.in_memory(seed=7)
    assert names(r.rank(alert(), CANDIDATES)) == CANDIDATES


def test_cold_start_prefers_higher_priority() -> None:
    r = Recommender.in_memory(seed=7)
    cands = [Candidate("restart-pod"), Candidate("rollback-bad-rollout", priority=50)]
    assert names(r.rank(alert(), cands))[0] == "rollback-bad-rollout"


def test_template_objects_are_candidates_with_their_priority() -> None:
    low = WorkflowTemplate.model_validate(
        {"metadata": {"name": "low"}, "spec": {"steps": [{"name": "s", "action": {"name": "noop"}}]}}
    )
    high = WorkflowTemplate.model_validate(
        {"metadata": {"name": "high"}, "spec": {"priority": 20, "steps": [{"name": "s", "action": {"name": "noop"}}]}}
    )
    ranked = Recommender.in_memory().rank(alert(), [low, high])
    assert names(ranked) == ["high", "low"]


def test_a_failed_template_drops_below_an_untried_one() -> None:
    r = Recommender.in_memory(seed=7)
    first = alert()
    r.rank(first, CANDIDATES)
    r.record_outcome(first, "restart-pod", "Ineffective")
    ranked = r.rank(alert(), CANDIDATES)
    assert ranked[0].template == "rollback-bad-rollout"
    assert ranked[-1].template == "restart-pod"


def test_an_effective_template_rises_for_a_similar_alert() -> None:
    r = Recommender.in_memory(seed=7)
    for _ in range(3):
        a = alert()
        r.record_outcome(a, "increase-memory-limit", "Effective")
    ranked = r.rank(alert(), CANDIDATES)
    assert ranked[0].template == "increase-memory-limit"
    assert ranked[0].score > 0.5


def test_unknown_outcomes_teach_nothing() -> None:
    r = Recommender.in_memory(seed=7)
    for _ in range(5):
        r.record_outcome(alert(), "restart-pod", "Unknown")
    ranked = r.rank(alert(), CANDIDATES)
    assert names(ranked) == CANDIDATES
    assert ranked[0].evidence == 0


def test_an_unknown_outcome_word_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        Recommender.in_memory().record_outcome(alert(), "restart-pod", "Resolved")  # type: ignore[arg-type]


def test_recording_the_same_run_twice_counts_once() -> None:
    r = Recommender.in_memory()
    a = alert()
    r.record_outcome(a, "restart-pod", "Ineffective", run_id="run-1")
    r.record_outcome(a, "restart-pod", "Ineffective", run_id="run-1")
    assert r.rank(alert(), CANDIDATES)[-1].evidence == pytest.approx(1.0, abs=0.5)
    assert len(r._index) == 1


def test_context_decides_between_templates() -> None:
    # Same alert text; the live context (OOMKilled vs a recent rollout) tells which fix worked.
    r = Recommender.in_memory(seed=1)
    oom = Context(termination_reason="OOMKilled", exit_code=137, recent_rollout=False)
    rollout = Context(termination_reason="Error", exit_code=1, recent_rollout=True)
    for _ in range(6):
        a, b = alert(), alert()
        r.rank(a, CANDIDATES, context=oom)
        r.record_outcome(a, "increase-memory-limit", "Effective")
        r.record_outcome(a, "rollback-bad-rollout", "Ineffective", context=oom)
        r.rank(b, CANDIDATES, context=rollout)
        r.record_outcome(b, "rollback-bad-rollout", "Effective")
        r.record_outcome(b, "increase-memory-limit", "Ineffective", context=rollout)
    assert r.rank(alert(), CANDIDATES, context=oom)[0].template == "increase-memory-limit"
    assert r.rank(alert(), CANDIDATES, context=rollout)[0].template == "rollback-bad-rollout"


def test_tokens_that_split_outcomes_outweigh_identity_tokens() -> None:
    # Pod api-1 fails both ways, as do other pods: the pod says nothing about which fix works, OOMKilled does.
    r = Recommender.in_memory(seed=1)
    for i in range(12):
        for pod in ("api-1", f"db-{i}"):
            r.record_outcome(alert(pod=pod, description="OOMKilled"), "increase-memory-limit", "Effective")
            r.record_outcome(alert(pod=pod, description="connection refused"), "increase-memory-limit", "Ineffective")
    oom = r.rank(alert(pod="api-1", description="OOMKilled"), CANDIDATES)
    weights = dict(oom[0].features)
    assert weights["word:oomkilled"] > 3 * weights["label:pod=api-1"]
    assert oom[0].template == "increase-memory-limit"
    assert oom[0].mean > 0.7
    refused = r.rank(alert(pod="api-1", description="connection refused"), CANDIDATES)
    assert refused[-1].template == "increase-memory-limit"


def test_equal_histories_give_equal_rankings() -> None:
    def run() -> list[tuple[str, float]]:
        r = Recommender.in_memory(seed=3)
        for i in range(10):
            a = alert(pod=f"p-{i}")
            r.record_outcome(a, CANDIDATES[i % 3], "Effective" if i % 2 else "Ineffective")
        return [(x.template, x.score) for x in r.rank(alert(pod="p-3"), CANDIDATES)]

    assert run() == run()


def test_thompson_sampling_is_reproducible_by_seed() -> None:
    def draws(seed: int) -> list[float]:
        r = Recommender.in_memory(seed=seed, policy=Policy(choose="thompson"))
        return [x.score for _ in range(5) for x in r.rank(alert(pod="same"), CANDIDATES)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_every_ranking_is_explained() -> None:
    r = Recommender.in_memory(seed=7)
    past = alert(pod="api-1")
    r.record_outcome(past, "rollback-bad-rollout", "Effective")
    ranked = r.rank(alert(pod="api-2"), CANDIDATES)
    best = ranked[0]
    assert best.template == "rollback-bad-rollout"
    assert best.neighbours[0].fingerprint == past["fingerprint"]
    assert best.neighbours[0].outcome == "Effective"
    assert any(reason.startswith("learned:") for reason in best.reasons)
    assert any(reason.startswith("features that weighed most") for reason in best.reasons)
    assert any(reason.startswith("untried") for reason in ranked[1].reasons)
    status = recommendation(ranked)
    assert status.template == "rollback-bad-rollout"
    assert [a.template for a in status.alternatives] == [x.template for x in ranked[1:]]


def test_an_empty_candidate_list_ranks_nothing() -> None:
    assert Recommender.in_memory().rank(alert(), []) == []


def test_a_candidate_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="candidate must be"):
        Recommender.in_memory().rank(alert(), [42])


async def test_async_ranking_runs_off_the_event_loop() -> None:
    r = Recommender.in_memory(seed=7)
    loop_thread = asyncio.get_running_loop()._thread_id  # type: ignore[attr-defined]
    seen: list[int | None] = []
    original = r._score

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        import threading

        seen.append(threading.get_ident())
        return original(*args, **kwargs)

    r._score = spy  # type: ignore[method-assign]
    ranked = await r.arank(alert(), CANDIDATES)
    assert names(ranked) == CANDIDATES
    assert seen
    assert all(ident != loop_thread for ident in seen)


def test_cosine_similarity_counts_a_past_alerts_extra_tokens_against_it() -> None:
    def nearest(similarity: str) -> float:
        r = Recommender.in_memory(policy=Policy(similarity=similarity))  # type: ignore[arg-type]
        r.record_outcome(
            alert(pod="a", description="OOMKilled connection refused disk full"), "restart-pod", "Effective"
        )
        return r.rank(alert(pod="b", description="OOMKilled"), ["restart-pod"])[0].neighbours[0].similarity

    assert nearest("containment") > nearest("cosine")
