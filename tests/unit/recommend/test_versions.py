"""Template versions in ranking: an edit keeps what was learned, and the new version's record soon dominates."""

from __future__ import annotations

from typing import Any

from suture.api import WorkflowTemplate
from suture.recommend import Recommender
from suture.recommend.alerts import candidate_from
from tests.unit.recommend.conftest import alert


def fix(action: str) -> WorkflowTemplate:
    """The template ``fix`` at one version: its step's action is what an edit changes."""
    return WorkflowTemplate.model_validate(
        {"metadata": {"name": "fix", "generation": 1}, "spec": {"steps": [{"name": "s", "action": {"name": action}}]}}
    )


OTHER = WorkflowTemplate.model_validate(
    {"metadata": {"name": "other"}, "spec": {"steps": [{"name": "s", "action": {"name": "noop"}}]}}
)


def rank_first(r: Recommender, candidates: list[Any]) -> str:
    return str(r.rank(alert(), candidates)[0].template)


def test_a_candidate_object_carries_the_version_runs_record() -> None:
    old, new = fix("restart_pod"), fix("rollback_deployment")
    assert candidate_from(old).version == old.content_hash()
    assert candidate_from(new).version == new.content_hash() != old.content_hash()
    assert candidate_from("fix").version == ""


def test_an_edited_template_is_preferred_sooner_than_without_versions() -> None:
    old, new = fix("restart_pod"), fix("rollback_deployment")
    r = Recommender.in_memory(seed=7)
    for _ in range(4):
        r.record_outcome(alert(), "fix", "Ineffective", version=old.content_hash())
    assert rank_first(r, [OTHER, new]) == "other"
    # The same history, ranked with versions (template objects) and without (names), after each new success.
    first_with = first_without = None
    for wins in range(1, 12):
        r.record_outcome(alert(), "fix", "Effective", version=new.content_hash())
        if first_with is None and rank_first(r, [OTHER, new]) == "fix":
            first_with = wins
        if first_without is None and rank_first(r, ["other", "fix"]) == "fix":
            first_without = wins
    assert first_with is not None
    assert first_without is not None
    assert first_with < first_without


def test_the_explanation_counts_outcomes_of_the_current_and_older_versions() -> None:
    old, new = fix("restart_pod"), fix("rollback_deployment")
    r = Recommender.in_memory(seed=7)
    for _ in range(3):
        r.record_outcome(alert(), "fix", "Ineffective", version=old.content_hash())
    r.record_outcome(alert(), "fix", "Effective", version=new.content_hash())
    r.record_outcome(alert(), "fix", "Effective")  # recorded without a version: not known to be the current one
    (ranked,) = r.rank(alert(), [new])
    assert f"versions: 1 of these ran the current version {new.content_hash()}, 4 an older one (counted x0.5)" in (
        ranked.reasons
    )
    # The old version ranked as itself sees its own three failures at full weight.
    (as_old,) = r.rank(alert(), [old])
    assert any(f"3 of these ran the current version {old.content_hash()}" in reason for reason in as_old.reasons)
    assert as_old.mean < ranked.mean


def test_names_rank_as_before_without_discount_or_version_reasons() -> None:
    new = fix("rollback_deployment")
    with_versions, without = Recommender.in_memory(seed=7), Recommender.in_memory(seed=7)
    # The same alerts for both: a past alert's own tokens (its pod) count in its similarity.
    past = [(alert(), outcome) for outcome in ("Ineffective", "Effective", "Ineffective")]
    for r in (with_versions, without):
        for payload, outcome in past:
            r.record_outcome(payload, "fix", outcome, version=new.content_hash() if r is with_versions else "")
    a = alert()
    by_name = with_versions.rank(a, ["other", "fix"])
    plain = without.rank(a, ["other", "fix"])
    assert [(x.template, x.score) for x in by_name] == [(x.template, x.score) for x in plain]
    assert not any(reason.startswith("versions:") for x in by_name for reason in x.reasons)


def test_versions_survive_a_restart_of_the_embedded_index(tmp_path: Any) -> None:
    new = fix("rollback_deployment")
    r = Recommender.open(data_dir=tmp_path)
    r.record_outcome(alert(), "fix", "Effective", version=new.content_hash(), run_id="run-1")
    r.close()
    reopened = Recommender.open(data_dir=tmp_path)
    try:
        (ranked,) = reopened.rank(alert(), [new])
        assert any(reason.startswith("versions: 1 of these ran the current version") for reason in ranked.reasons)
    finally:
        reopened.close()
