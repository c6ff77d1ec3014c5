"""The vector store becomes unreachable while the operator runs: ranking degrades to template priority,
with a metric and a log line, and the alert still gets its Remediation."""

from __future__ import annotations

import json
import logging

import pytest
from qdrant_client import QdrantClient

from suture import metrics
from suture.api import AlertmanagerPayload
from suture.recommend import HashingFeaturizer, Recommender
from suture.recommend.qdrant_index import QdrantIndex
from suture.webhook import ByNameRanker, FallbackRanker, Intake, PriorityRanker, StaticCatalog
from tests.conftest import free_port
from tests.unit.webhook.conftest import HOME, alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi


async def test_an_unreachable_qdrant_server_degrades_ranking_to_priority_not_the_alert(
    kube: ReceiverApi, caplog: pytest.LogCaptureFixture
) -> None:
    index = QdrantIndex.connect(url=":memory:", dim=256)
    recommender = Recommender(index=index, featurizer=HashingFeaturizer(dim=256), seed=0)
    for fingerprint in ("a1", "a2", "a3"):  # the learned order would pick a-restart
        recommender.record_outcome(alert(fingerprint=fingerprint), "a-restart", "Effective")
    # The server goes away: the same client library, now pointed at a port nothing listens on.
    index._client = QdrantClient(url=f"http://127.0.0.1:{free_port()}", timeout=1, check_compatibility=False)

    catalog = StaticCatalog([template("a-restart"), template("z-rollback", priority=50)])
    ranker = FallbackRanker(ByNameRanker(recommender), PriorityRanker())
    intake = Intake(kube=kube.client, catalog=catalog, ranker=ranker, home_namespace=HOME)
    before = metrics.RANKER_FALLBACKS._value.get()
    body = AlertmanagerPayload.model_validate_json(json.dumps(payload(alert(fingerprint="b1"))))
    with caplog.at_level(logging.ERROR, logger="suture.webhook"):
        summary = await intake.receive(body)

    assert len(summary.created) == 1
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"]["name"] == "z-rollback"  # priority order
    assert metrics.RANKER_FALLBACKS._value.get() == before + 1
    assert any("ranking by priority" in r.getMessage() for r in caplog.records)
