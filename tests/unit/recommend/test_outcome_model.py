"""The optional logistic outcome model: it learns which features make a template work, absent ones included."""

from __future__ import annotations

import numpy as np

from suture.recommend import Policy, Recommender
from suture.recommend.outcome_model import LogisticPosterior, OutcomeModels
from tests.unit.recommend.conftest import alert


def _vec(*dims: int) -> np.ndarray:  # type: ignore[type-arg]
    v = np.zeros(8, dtype=np.float32)
    v[list(dims)] = 1.0
    return v


def test_untrained_model_predicts_one_half_and_unseen_template_nothing() -> None:
    assert LogisticPosterior(8).predict(_vec(1, 2))[0] == 0.5
    assert OutcomeModels(dim=8).predict(family="F", template="t", vector=_vec(1)) is None


def test_a_feature_that_decides_success_is_learned_and_its_absence_too() -> None:
    model = LogisticPosterior(8)
    for _ in range(30):
        model.update(_vec(0, 3), effective=True)  # dimension 3 present: works
        model.update(_vec(0), effective=False)  # absent: fails
    with_cue, _ = model.predict(_vec(0, 3))
    without, _ = model.predict(_vec(0))
    assert with_cue > 0.8
    assert without < 0.2


def test_drift_lets_recent_outcomes_outweigh_old_ones() -> None:
    still, drifting = LogisticPosterior(8), LogisticPosterior(8, drift=0.05)
    for model in (still, drifting):
        for _ in range(60):
            model.update(_vec(0), effective=True)
        for _ in range(15):
            model.update(_vec(0), effective=False)
    assert drifting.predict(_vec(0))[0] < still.predict(_vec(0))[0]


def test_recommender_with_the_outcome_model_learns_and_explains() -> None:
    r = Recommender.in_memory(seed=7, policy=Policy(outcome_model=True))
    candidates = ["restart-pod", "increase-memory-limit"]
    for _ in range(4):
        a = alert(description="container OOMKilled")
        r.rank(a, candidates)
        r.record_outcome(a, "restart-pod", "Ineffective")
        r.record_outcome(a, "increase-memory-limit", "Effective")
    ranked = r.rank(alert(description="container OOMKilled"), candidates)
    assert ranked[0].template == "increase-memory-limit"
    assert any(reason.startswith("outcome model") for reason in ranked[0].reasons)
