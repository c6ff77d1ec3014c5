"""Token-weight statistics and similarity variants: relevance by contrast or phi, a window of outcomes, and a past
alert's extra tokens diluting its similarity."""

from __future__ import annotations

import numpy as np
import pytest

from suture.recommend import Policy, Recommender
from suture.recommend.index import Hit, Hits, Point
from suture.recommend.ranking import gather
from suture.recommend.weights import TokenWeights
from tests.unit.recommend.conftest import alert

DIM = 16
PLAIN = "Pod is in waiting state (reason: CrashLoopBackOff)."


def vec(*dims: int) -> np.ndarray:  # type: ignore[type-arg]
    v = np.zeros(DIM, dtype=np.float32)
    v[list(dims)] = 1.0
    return v


def feed(weights: TokenWeights, rows: list[tuple[str, tuple[int, ...], bool]]) -> None:
    for template, dims, effective in rows:
        weights.observe(family="F", template=template, vector=vec(*dims), effective=effective)


# Dimension 0 is on every alert; 1 is on 80 % of them, and its ABSENCE is what tells (the fix works without it);
# 2 is an identity token that comes and goes regardless of the outcome.
FREQUENT_ABSENCE_TELLS = [
    *[("fix", (0, 1, 2 if i % 2 else 3), False) for i in range(16)],
    *[("fix", (0, 2 if i % 2 else 3), True) for i in range(4)],
]


@pytest.mark.parametrize("relevance", ["shift", "contrast", "phi"])
def test_every_statistic_gives_a_token_on_every_alert_no_relevance(relevance: str) -> None:
    w = TokenWeights(dim=DIM, relevance=relevance)  # type: ignore[arg-type]
    feed(w, FREQUENT_ABSENCE_TELLS)
    weights = w.weights("F")
    # idf of an ever-present token is 1: its weight is the floor alone.
    assert weights[0] == pytest.approx(w.floor)


@pytest.mark.parametrize("relevance", ["contrast", "phi"])
def test_statistics_that_read_absence_weigh_a_frequent_telling_token_more_than_shift(relevance: str) -> None:
    shift = TokenWeights(dim=DIM, relevance="shift")
    other = TokenWeights(dim=DIM, relevance=relevance)  # type: ignore[arg-type]
    feed(shift, FREQUENT_ABSENCE_TELLS)
    feed(other, FREQUENT_ABSENCE_TELLS)
    # Token 1 is present on 16 of 20 runs: its presence barely moves the rate from the overall one,
    # but runs without it all worked. Identity tokens 2/3 say nothing either way.
    assert other.weights("F")[1] > 1.5 * shift.weights("F")[1]
    assert other.weights("F")[1] > 2 * other.weights("F")[2]


def test_a_window_forgets_the_oldest_outcomes_exactly() -> None:
    old = [("fix", (0, 1), True)] * 5 + [("fix", (0, 2), False)] * 5
    recent = [("fix", (0, 1), False), ("fix", (0, 2), True), ("other", (0, 3), True)] * 4
    windowed = TokenWeights(dim=DIM, window=len(recent))
    fresh = TokenWeights(dim=DIM)
    feed(windowed, old + recent)
    feed(fresh, recent)
    np.testing.assert_allclose(windowed.weights("F"), fresh.weights("F"), rtol=1e-6)
    unbounded = TokenWeights(dim=DIM)
    feed(unbounded, old + recent)
    assert not np.allclose(unbounded.weights("F"), fresh.weights("F"))


def hits_of(*vectors: np.ndarray, query: np.ndarray) -> Hits:  # type: ignore[type-arg]
    points = [
        Point(id=str(i), family="F", template="t", effective=True, seq=i, vector=v) for i, v in enumerate(vectors)
    ]
    return Hits.of([Hit(point=p, score=float(query @ p.vector)) for p in points])


def test_extra_tokens_of_a_past_alert_dilute_its_similarity() -> None:
    weights = np.ones(DIM, dtype=np.float32)
    query = vec(0, 1) * weights
    same, bigger = vec(0, 1), vec(0, 1, 2, 3)
    hits = hits_of(same, bigger, query=query)
    np.testing.assert_array_equal(hits.masses(weights), [2.0, 4.0])
    mass = float(query.sum())
    plain = gather(hits, query_mass=mass, sharpness=1.0)
    assert [n.similarity for n in plain.neighbours] == [1.0, 1.0]
    jaccard = gather(hits, query_mass=mass, sharpness=1.0, weights=weights, extra_weight=1.0)
    assert [n.similarity for n in jaccard.neighbours] == [1.0, 0.5]  # shared 2 of the union's 4
    half = gather(hits, query_mass=mass, sharpness=1.0, weights=weights, extra_weight=0.5)
    assert half.neighbours[1].similarity == pytest.approx(2 / 3, abs=1e-4)


def test_the_embedded_index_gives_its_hits_weighted_masses() -> None:
    r = Recommender.in_memory()
    first = alert(pod="a", description="OOMKilled connection refused")
    r.record_outcome(first, "restart-pod", "Effective")
    vector = r.featurizer.featurize(*_view_and_context(first)).vector
    hits = r._index.search(vector, family="KubePodCrashLooping", template="restart-pod", limit=5)
    weights = np.arange(len(vector), dtype=np.float32)
    np.testing.assert_allclose(hits.masses(weights), [float(vector @ weights)])
    # A point with more set dimensions than the row-wise lists hold widens them.
    wide = np.ones(len(vector), dtype=np.float32)
    r._index.add(
        Point(id="wide", family="KubePodCrashLooping", template="restart-pod", effective=True, seq=9, vector=wide)
    )
    hits = r._index.search(wide, family="KubePodCrashLooping", template="restart-pod", limit=5)
    np.testing.assert_allclose(sorted(hits.masses(weights)), sorted([float(vector @ weights), float(wide @ weights)]))


def _view_and_context(payload: dict[str, object]) -> tuple[object, None]:
    from suture.recommend.alerts import AlertView

    return AlertView.parse(payload), None


def test_a_past_alert_with_an_extra_telling_token_counts_less_with_extra_weight() -> None:
    def similarity(extra_weight: float) -> float:
        r = Recommender.in_memory(policy=Policy(extra_weight=extra_weight))
        # OOMKilled decides the outcome of restart-pod, so it weighs: a past alert carrying it is less like one without.
        for i in range(6):
            r.record_outcome(alert(pod=f"x{i}", description=f"{PLAIN} OOMKilled"), "restart-pod", "Ineffective")
            r.record_outcome(alert(pod=f"y{i}"), "restart-pod", "Effective")
        ranked = r.rank(alert(pod="z"), ["restart-pod"])[0]
        return ranked.neighbours[-1].similarity

    assert similarity(0.0) == pytest.approx(1.0, abs=0.05)
    assert similarity(1.0) < 0.8
