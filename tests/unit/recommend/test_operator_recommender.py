"""Which vector index the operator's recommender uses: the embedded one, or a Qdrant server by URL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from suture import metrics
from suture.config import Settings
from suture.handlers import _open_recommender
from suture.recommend.numpy_index import NumpyIndex
from suture.recommend.qdrant_index import QdrantIndex


def test_without_a_url_the_recommender_keeps_its_index_in_the_data_directory(tmp_path: Path) -> None:
    recommender = _open_recommender(Settings(data_dir=tmp_path, qdrant_url=""))
    assert recommender is not None
    try:
        assert isinstance(recommender._index, NumpyIndex)
        assert (tmp_path / "vectors.log").exists()
    finally:
        recommender.close()


def test_suture_qdrant_url_puts_past_alerts_in_qdrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ":memory:" is qdrant-client's local mode, which takes the same calls as a server.
    monkeypatch.setenv("SUTURE_QDRANT_URL", ":memory:")
    recommender = _open_recommender(Settings(data_dir=tmp_path))
    assert recommender is not None
    try:
        assert isinstance(recommender._index, QdrantIndex)
        alert = {"labels": {"alertname": "KubePodCrashLooping", "pod": "api-1"}, "fingerprint": "f1"}
        recommender.record_outcome(alert, "restart-pod", "Effective")
        assert recommender.rank(alert, ["scale-out", "restart-pod"])[0].template == "restart-pod"
        assert not (tmp_path / "vectors.log").exists()
    finally:
        recommender.close()


def test_an_unreachable_qdrant_server_ranks_by_priority_and_never_logs_its_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = metrics.LEARNING_FAILURES._value.get()
    url = "http://suture:s3cret-token@127.0.0.1:1"  # loopback, nothing listens on port 1
    with caplog.at_level(logging.DEBUG):
        recommender = _open_recommender(Settings(data_dir=tmp_path, qdrant_url=url))
    assert recommender is None
    assert metrics.LEARNING_FAILURES._value.get() == before + 1
    assert "Qdrant server could not be used" in caplog.text
    assert "s3cret" not in caplog.text
    assert "127.0.0.1:1" not in caplog.text
    assert "s3cret" not in repr(Settings(data_dir=tmp_path, qdrant_url=url))
