"""The vector index contract, on the embedded numpy index and on qdrant-client's local mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from suture.recommend import IndexLockedError, NumpyIndex, Point, Recommender, VectorIndex
from suture.recommend.qdrant_index import QdrantIndex
from tests.unit.recommend.conftest import alert

DIM = 32


def point(i: int, *, family: str = "A", template: str = "t1", effective: bool = True, seed: int = 0) -> Point:
    rng = np.random.default_rng(seed * 1000 + i)
    vector = (rng.random(DIM) < 0.3).astype(np.float32)
    return Point(id=f"p{i}", family=family, template=template, effective=effective, seq=i, vector=vector)


@pytest.fixture(params=["numpy", "qdrant-local"])
def index(request: pytest.FixtureRequest) -> Iterator[VectorIndex]:
    idx: VectorIndex = NumpyIndex(dim=DIM) if request.param == "numpy" else QdrantIndex.connect(url=":memory:", dim=DIM)
    yield idx
    idx.close()


def test_search_returns_the_top_dot_products_of_one_family_and_template(index: VectorIndex) -> None:
    points = [point(i, family="A" if i % 3 else "B", template="t1" if i % 2 else "t2") for i in range(60)]
    for p in points:
        index.add(p)
    query = np.random.default_rng(99).random(DIM).astype(np.float32)
    hits = index.search(query, family="A", template="t1", limit=5)
    eligible = [p for p in points if p.family == "A" and p.template == "t1"]
    expected = sorted(eligible, key=lambda p: -float(p.vector @ query))[:5]
    assert [h.point.id for h in hits] == [p.id for p in expected]
    assert [round(h.score, 4) for h in hits] == [round(float(p.vector @ query), 4) for p in expected]


def test_an_id_added_twice_is_stored_once(index: VectorIndex) -> None:
    index.add(point(1))
    index.add(point(1))
    assert len(index) == 1
    assert [p.id for p in index.points()] == ["p1"]


def test_points_come_back_in_recording_order_with_their_payload(index: VectorIndex) -> None:
    for i in (3, 1, 2):
        index.add(point(i, effective=i != 2))
    stored = list(index.points())
    assert sorted(p.seq for p in stored) == [1, 2, 3]
    assert {p.id: p.effective for p in stored} == {"p1": True, "p2": False, "p3": True}
    assert all(np.array_equal(p.vector, point(int(p.id[1:])).vector) for p in stored)


def test_an_unknown_family_or_template_finds_nothing(index: VectorIndex) -> None:
    index.add(point(1))
    assert len(index.search(np.ones(DIM, dtype=np.float32), family="A", template="other", limit=3)) == 0
    assert len(index.search(np.ones(DIM, dtype=np.float32), family="Z", template="t1", limit=3)) == 0


def test_a_vector_of_the_wrong_length_is_refused(index: VectorIndex) -> None:
    bad = Point(id="x", family="A", template="t", effective=True, seq=1, vector=np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(ValueError, match="vectors"):
        index.add(bad)


def test_the_embedded_index_reloads_from_its_file(tmp_path: Path) -> None:
    path = tmp_path / "vectors.log"
    first = NumpyIndex(dim=DIM, path=path)
    for i in range(10):
        first.add(point(i))
    first.close()
    again = NumpyIndex(dim=DIM, path=path)
    assert [p.id for p in again.points()] == [f"p{i}" for i in range(10)]
    again.close()


def test_a_torn_last_line_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "vectors.log"
    idx = NumpyIndex(dim=DIM, path=path)
    for i in range(3):
        idx.add(point(i))
    idx.close()
    with path.open("a") as handle:
        handle.write('{"id":"p9","family":"A"')  # killed mid-write
    again = NumpyIndex(dim=DIM, path=path)
    assert len(again) == 3
    again.add(point(4))  # appends after the truncated tail, not onto it
    again.close()
    assert [p.id for p in NumpyIndex(dim=DIM, path=path).points()] == ["p0", "p1", "p2", "p4"]


def test_a_second_opener_of_the_same_file_is_refused(tmp_path: Path) -> None:
    first = NumpyIndex(dim=DIM, path=tmp_path / "vectors.log")
    with pytest.raises(IndexLockedError):
        NumpyIndex(dim=DIM, path=tmp_path / "vectors.log")
    first.close()


def test_every_acknowledged_outcome_survives_a_sigkill(tmp_path: Path) -> None:
    # A child records outcomes as fast as it can and prints each one once record_outcome returned;
    # it is SIGKILLed mid-stream. Everything it acknowledged must be there after reload.
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from suture.recommend import Recommender
        r = Recommender.open(data_dir=Path({str(tmp_path)!r}))
        for i in range(100000):
            a = {{"labels": {{"alertname": "KubePodCrashLooping", "pod": f"p-{{i}}"}}, "fingerprint": f"fp{{i}}"}}
            r.record_outcome(a, "restart-pod", "Effective" if i % 2 else "Ineffective", run_id=f"run-{{i}}")
            print(i, flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    reopened = Recommender.open(data_dir=tmp_path)
    stored = {p.id for p in reopened._index.points()}
    assert {f"run-{i}" for i in range(acknowledged + 1)} <= stored
    ranked = reopened.rank(alert(), ["restart-pod", "other"])
    assert next(r for r in ranked if r.template == "restart-pod").evidence > 0
    reopened.close()


def test_a_reopened_recommender_ranks_as_before(tmp_path: Path) -> None:
    first = Recommender.open(data_dir=tmp_path)
    for i in range(6):
        first.record_outcome(alert(pod=f"p{i}"), "rollback-bad-rollout", "Effective")
        first.record_outcome(alert(pod=f"q{i}"), "restart-pod", "Ineffective")
    probe = alert(pod="p-new")
    before = [(r.template, round(r.score, 6)) for r in first.rank(probe, ["restart-pod", "rollback-bad-rollout"])]
    first.close()
    second = Recommender.open(data_dir=tmp_path)
    after = [(r.template, round(r.score, 6)) for r in second.rank(probe, ["restart-pod", "rollback-bad-rollout"])]
    second.close()
    assert after == before
    assert after[0][0] == "rollback-bad-rollout"


def test_the_qdrant_backend_learns_like_the_embedded_one() -> None:
    def run(r: Recommender) -> list[tuple[str, float]]:
        for i in range(5):
            r.record_outcome(alert(pod=f"a{i}", description="OOMKilled"), "increase-memory-limit", "Effective")
            r.record_outcome(alert(pod=f"b{i}", description="OOMKilled"), "restart-pod", "Ineffective")
        probe = alert(pod="zz", description="OOMKilled")
        return [(x.template, round(x.score, 4)) for x in r.rank(probe, ["restart-pod", "increase-memory-limit"])]

    embedded = run(Recommender.in_memory(dim=64))
    qdrant = Recommender(
        index=QdrantIndex.connect(url=":memory:", dim=64),
        featurizer=Recommender.in_memory(dim=64).featurizer,
    )
    assert run(qdrant) == embedded
    assert embedded[0][0] == "increase-memory-limit"


def test_each_hit_carries_the_template_version_that_ran(index: VectorIndex) -> None:
    for i in range(1, 4):
        p = point(i)
        index.add(Point(**{**p.__dict__, "version": "v-old" if i < 3 else "v-new"}))
    hits = index.search(np.ones(DIM, dtype=np.float32), family="A", template="t1", limit=3)
    assert sorted(hits.versions) == ["v-new", "v-old", "v-old"]
    assert {p.id: p.version for p in index.points()} == {"p1": "v-old", "p2": "v-old", "p3": "v-new"}
