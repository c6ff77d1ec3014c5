"""The template's verify.promql: asked once the alert resolved in the window, through the engine's own PromQL
evaluation; Unknown (never Ineffective) when Prometheus cannot or can never answer; alert labels only as
escaped matchers. And the template's Failing condition, written from the outcome history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from suture.errors import InvalidQuery, PrometheusUnavailable
from suture.kube import KubeClient
from suture.store import History, open_database
from suture.validation import valid_status, validate_object
from suture.verify import HistoryLearner, Verifier
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation, template

FINGERPRINT = "6f1a3b2c9d8e7f60"
HOSTILE = 'we"b"} or vector(1) #'
CHECK = {
    "query": "sum(rate(http_errors_total{$matchers}[5m]))",
    "matchers": [{"label": "service", "value": "${{ alert.labels.service }}"}],
    "operator": "<",
    "threshold": 0.05,
}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakePromQL:
    """Answers each query with the next of ``values`` (the last repeats); an exception value is raised."""

    values: list[Any] = field(default_factory=lambda: [0.01])
    queries: list[str] = field(default_factory=list)

    async def query(self, *, query: str) -> float | None:
        self.queries.append(query)
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if isinstance(value, Exception):
            raise value
        return value  # type: ignore[no-any-return]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def with_check(check: dict[str, Any] | None = CHECK, name: str = "restart") -> dict[str, Any]:
    doc = template(name)
    doc["spec"]["verify"] = {"alertResolvedWithin": "5m", **({"promql": check} if check else {})}
    return doc


def verifying(
    clock: Clock, *, resolved: bool = True, name: str = "crashloop-1", template_name: str = "restart"
) -> dict[str, Any]:
    """A Remediation in Verifying whose window ends in 5 minutes, its alert resolved a minute ago (or not)."""
    doc = remediation(name, template=template_name, labels={"service": HOSTILE})
    doc["spec"]["alert"]["fingerprint"] = FINGERPRINT
    doc["status"] = {
        "phase": "Verifying",
        "startTime": _stamp(clock.now - timedelta(minutes=3)),
        "completionTime": _stamp(clock.now - timedelta(minutes=2)),
        "target": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
        "verification": {"outcome": "Pending", "deadline": _stamp(clock.now + timedelta(minutes=5))},
    }
    if resolved:
        doc["status"]["alert"] = {"resolvedAt": _stamp(clock.now - timedelta(minutes=1))}
    return doc


def stored(api: FakeKubeApi, name: str = "crashloop-1") -> dict[str, Any]:
    return dict(api.get("Remediation", name, "shop"))


def verifier(kube: KubeClient, clock: Clock, promql: FakePromQL | None, **kwargs: Any) -> Verifier:
    async def no_sleep(_: float) -> None:
        clock.now += timedelta(seconds=_)

    return Verifier(kube=kube, clock=clock, promql=promql, sleep=no_sleep, **kwargs)


async def test_a_resolved_alert_is_effective_when_the_check_holds_and_labels_reach_it_only_as_matchers(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    clock, promql = Clock(), FakePromQL([0.01])
    api.add(with_check(), verifying(clock))
    assert await verifier(kube, clock, promql).check(stored(api)) == "Effective"
    # The hostile label value stays one escaped string literal inside the selector.
    assert promql.queries == ['sum(rate(http_errors_total{service="we\\"b\\"} or vector(1) #"}[5m]))']
    verification = stored(api)["status"]["verification"]
    assert verification["outcome"] == "Effective"
    assert "0.01 < 0.05" in verification["message"]
    assert verification["timeToResolveSeconds"] == 60.0


async def test_a_check_that_does_not_hold_yet_is_asked_again_and_counts_once_it_holds(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    clock, promql = Clock(), FakePromQL([0.4, 0.2, 0.01])
    api.add(with_check(), verifying(clock))
    checker = verifier(kube, clock, promql)
    assert await checker.check(stored(api)) is None  # the metric lags the alert: the window is still open
    version = stored(api)["metadata"]["resourceVersion"]
    assert await checker.check(stored(api)) is None
    assert stored(api)["metadata"]["resourceVersion"] == version  # the same wait is said once, not at every look
    status = stored(api)["status"]
    assert (status["phase"], status["verification"]["outcome"]) == ("Verifying", "Pending")
    assert "verify.promql does not hold yet, asked again until" in status["verification"]["message"]
    assert await checker.check(stored(api)) == "Effective"
    assert len(promql.queries) == 3


async def test_a_check_still_failing_when_the_window_ends_is_ineffective(api: FakeKubeApi, kube: KubeClient) -> None:
    clock, promql = Clock(), FakePromQL([0.4])
    api.add(with_check(), verifying(clock))
    checker = verifier(kube, clock, promql)
    assert await checker.check(stored(api)) is None
    clock.now += timedelta(minutes=6)
    assert await checker.check(stored(api)) == "Ineffective"
    verification = stored(api)["status"]["verification"]
    assert "verify.promql did not hold by the end of the window" in verification["message"]
    assert "0.4 is not < 0.05" in verification["message"]


async def test_prometheus_unavailable_is_retried_until_the_deadline_then_unknown_never_ineffective(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    clock, promql = Clock(), FakePromQL([PrometheusUnavailable("connection refused")])
    api.add(with_check(), verifying(clock))
    checker = verifier(kube, clock, promql)
    assert await checker.check(stored(api)) is None
    assert "verify.promql could not be asked yet" in stored(api)["status"]["verification"]["message"]
    clock.now += timedelta(minutes=6)
    assert await checker.check(stored(api)) == "Unknown"
    assert "Prometheus could not be asked" in stored(api)["status"]["verification"]["message"]


async def test_no_prometheus_configured_is_unknown_at_once_saying_why(api: FakeKubeApi, kube: KubeClient) -> None:
    clock = Clock()
    api.add(with_check(), verifying(clock))
    assert await verifier(kube, clock, None).check(stored(api)) == "Unknown"
    assert "SUTURE_PROMETHEUS_URL" in stored(api)["status"]["verification"]["message"]


@pytest.mark.parametrize(
    ("check", "answer", "said"),
    [
        (CHECK, InvalidQuery("parse error"), "parse error"),
        ({**CHECK, "matchers": [{"label": "service", "value": "${{ alert.labels.missing }}"}]}, 0.01, "missing"),
    ],
    ids=["refused-query", "failed-lookup"],
)
async def test_a_check_that_can_never_be_evaluated_is_unknown_at_once(
    api: FakeKubeApi, kube: KubeClient, check: dict[str, Any], answer: Any, said: str
) -> None:
    clock = Clock()
    api.add(with_check(check), verifying(clock))
    assert await verifier(kube, clock, FakePromQL([answer])).check(stored(api)) == "Unknown"
    assert said in stored(api)["status"]["verification"]["message"]


async def test_the_check_never_rescues_a_firing_alert_nor_stands_in_for_a_missing_signal(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    from tests.unit.runs.test_verification import FakeAlertmanager

    clock, promql = Clock(), FakePromQL([0.01])
    api.add(with_check(), verifying(clock, resolved=False), verifying(clock, resolved=False, name="quiet-1"))
    clock.now += timedelta(minutes=6)
    firing = verifier(kube, clock, promql, alerts=FakeAlertmanager(firing={FINGERPRINT}))
    assert await firing.check(stored(api)) == "Ineffective"
    assert await verifier(kube, clock, promql).check(stored(api, "quiet-1")) == "Unknown"
    assert promql.queries == []


async def test_a_for_duration_polls_with_the_verifiers_sleep_and_every_sample_must_pass(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    clock, promql = Clock(), FakePromQL([0.01, 0.01, 0.3])
    api.add(with_check({**CHECK, "for": "20s"}), verifying(clock))
    checker = verifier(kube, clock, promql, check_interval=10)
    assert await checker.check(stored(api)) is None  # the third sample broke the hold
    assert len(promql.queries) == 3


async def test_a_deleted_template_leaves_a_resolved_alert_unknown(api: FakeKubeApi, kube: KubeClient) -> None:
    clock = Clock()
    api.add(verifying(clock))
    assert await verifier(kube, clock, FakePromQL()).check(stored(api)) == "Unknown"
    assert "cannot be read" in stored(api)["status"]["verification"]["message"]


def test_validate_warns_about_a_verify_check_without_prometheus_and_checks_its_matchers() -> None:
    doc = with_check()
    assert validate_object(doc, None) == []  # not known here: no warning
    assert validate_object(doc, None, prometheus=True) == []
    (warning,) = validate_object(doc, None, prometheus=False)
    assert (warning.severity, warning.path) == ("warning", "spec.verify.promql")
    assert "SUTURE_PROMETHEUS_URL" in warning.message
    valid, _ = valid_status(doc, registry=None, prometheus=False)
    assert (valid["status"], "SUTURE_PROMETHEUS_URL" in valid["message"]) == ("True", True)

    bad = with_check({**CHECK, "matchers": [{"label": "service", "value": "${{ steps.one.output.x }}"}]})
    assert [p.message for p in validate_object(bad, None)] == [
        "unknown name 'steps' in 'steps.one.output.x' (a verify check sees alert, target)"
    ]
    no_place = with_check({**CHECK, "query": "up"})
    assert [p.path for p in validate_object(no_place, None)] == ["spec.verify.promql.query"]


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[History]:
    async with open_database(location=str(tmp_path / "suture.sqlite")) as database:
        yield History(database)


def failing(api: FakeKubeApi, name: str) -> dict[str, Any] | None:
    conditions = (api.get("WorkflowTemplate", name, "shop").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Failing"), None)


async def test_a_template_that_keeps_failing_gets_the_condition_and_the_metric_and_loses_them_on_recovery(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    clock = Clock()
    (tpl,) = api.add(with_check(None, name="flaky-fix"))
    valid = {"type": "Valid", "status": "True", "reason": "Validated", "message": "the template is valid"}
    await kube.patch("WorkflowTemplate", "flaky-fix", {"status": {"conditions": [valid]}}, "shop", subresource="status")
    learner = HistoryLearner(history=history, kube=kube)
    for i in range(3):  # failed runs: Ineffective for their template, through the learner, not the verifier
        body = remediation(f"fail-{i}", template="flaky-fix")
        body["metadata"]["uid"] = f"uid-fail-{i}"
        body["status"] = {"phase": "Failed", "startTime": _stamp(clock.now + timedelta(seconds=i))}
        await learner.record(
            alert={},
            template="flaky-fix",
            outcome="Ineffective",
            run_id=f"uid-fail-{i}",
            remediation=body,
            phase="Failed",
        )
        assert (failing(api, "flaky-fix") or {}).get("status") == ("True" if i == 2 else "False")
    condition = failing(api, "flaky-fix")
    assert condition is not None
    assert (condition["reason"], condition["observedGeneration"]) == ("KeepsFailing", tpl["metadata"]["generation"])
    assert "the last 3 decided runs were Ineffective" in condition["message"]
    got = api.get("WorkflowTemplate", "flaky-fix", "shop")["status"]
    assert [c["type"] for c in got["conditions"]] == ["Valid", "Failing"]  # Valid kept
    assert (got["stats"]["runs"], got["stats"]["failed"], got["stats"]["lastOutcome"]) == (3, 3, "Ineffective")
    assert REGISTRY.get_sample_value("suture_template_failing", {"namespace": "shop", "template": "flaky-fix"}) == 1.0

    # A verified Effective run breaks the streak: the condition turns False, the metric 0.
    clock.now += timedelta(minutes=1)  # decided after the failures (the learner stamps them with the real clock)
    api.add(verifying(clock, name="works-1", template_name="flaky-fix"))
    assert await verifier(kube, clock, None, history=history).check(stored(api, "works-1")) == "Effective"
    condition = failing(api, "flaky-fix")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "NotFailing")
    assert condition["message"] == "1 of 4 decided runs were Effective"
    assert REGISTRY.get_sample_value("suture_template_failing", {"namespace": "shop", "template": "flaky-fix"}) == 0.0


def test_suture_validate_warns_when_its_environment_names_no_prometheus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from suture.cli import main

    doc = with_check()
    doc["spec"]["steps"] = [{"name": "look", "wait": {"duration": "1s"}}]  # the CLI checks actions for real
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.delenv("SUTURE_PROMETHEUS_URL", raising=False)
    assert main(["validate", str(path)]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert "warning: spec.verify.promql: this check needs a Prometheus" in out
    assert "0 error(s), 1 warning(s)" in out
    monkeypatch.setenv("SUTURE_PROMETHEUS_URL", "http://prometheus:9090")
    assert main(["validate", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out
