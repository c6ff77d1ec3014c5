"""The receiver ranks with the learning recommender, off the event loop, and falls back to priority."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from suture import metrics
from suture.api import AlertmanagerPayload
from suture.recommend import Recommender
from suture.webhook import ByNameRanker, FallbackRanker, Intake, PriorityRanker, StaticCatalog
from suture.webhook.catalog import IndexedTemplate
from tests.unit.webhook.conftest import HOME, alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi


class Broken:
    """A recommender whose index is gone; remembers which thread asked it."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def rank(self, alert: Mapping[str, Any], candidates: Sequence[Any]) -> list[Any]:
        self.threads.append(threading.get_ident())
        raise OSError("vectors.log: no such file")


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


def _intake(kube: ReceiverApi, catalog: StaticCatalog, inner: Any) -> Intake:
    ranker = FallbackRanker(ByNameRanker(inner), PriorityRanker())
    return Intake(kube=kube.client, catalog=catalog, ranker=ranker, home_namespace=HOME)


async def test_the_recommenders_choice_is_explained_in_the_remediation(kube: ReceiverApi) -> None:
    recommender = Recommender.in_memory(seed=7)
    catalog = StaticCatalog([template("a-restart", priority=50), template("z-rollback")])
    fired = alert(fingerprint="aaaa000000000001")
    for run in range(5):  # z-rollback fixed this kind of alert every time it was tried
        recommender.record_outcome(fired, "z-rollback", "Effective", run_id=f"r{run}")
        recommender.record_outcome(fired, "a-restart", "Ineffective", run_id=f"s{run}")
    await _intake(kube, catalog, recommender).receive(
        _parse(payload(alert(fingerprint="bbbb000000000002", pod="web-2")))
    )
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"]["name"] == "z-rollback"  # against the priority order
    recommendation = rem["status"]["recommendation"]
    assert recommendation["template"] == "z-rollback"
    assert recommendation["reasons"]
    assert [a["template"] for a in recommendation["alternatives"]] == ["a-restart"]


async def test_a_failing_recommender_costs_the_learned_order_not_the_alert(kube: ReceiverApi) -> None:
    broken = Broken()
    catalog = StaticCatalog([template("a-restart"), template("z-rollback", priority=50)])
    before = metrics.RANKER_FALLBACKS._value.get()
    await _intake(kube, catalog, broken).receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"]["name"] == "z-rollback"  # priority order
    assert metrics.RANKER_FALLBACKS._value.get() == before + 1
    assert broken.threads
    assert broken.threads[0] != threading.get_ident()  # ranked in a worker thread


async def test_candidates_the_recommender_leaves_out_are_still_ranked() -> None:
    class OnlyFirst:
        def rank(self, alert: Mapping[str, Any], candidates: Sequence[IndexedTemplate]) -> list[Any]:
            return list(PriorityRanker().rank(alert, candidates))[:1]

    entries = [template("a"), template("b", priority=10), template("c", priority=5)]
    ranked = await FallbackRanker(OnlyFirst(), PriorityRanker()).arank({}, entries)
    assert [r.template.name for r in ranked] == ["b", "c", "a"]
