"""The engine retries by the error's class: Prometheus outages and connection resets are transient, bugs are not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from suture.actions import ActionContext, ActionResult, Risk, action
from suture.engine import Engine, RunRequest
from suture.errors import InvalidQuery, PrometheusUnavailable
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment
from tests.unit.engine.fakes import Ledger, make_registry, rec, template

RETRY = {"limit": 3, "backoff": "1ms", "maxBackoff": "1ms"}


class FlakyPrometheus:
    """Raises ``error`` for the first ``failures`` queries, then answers ``value``."""

    def __init__(self, error: Exception, *, failures: int, value: float = 1.0) -> None:
        self.error = error
        self.failures = failures
        self.value = value
        self.queries = 0

    async def query(self, *, query: str) -> float | None:
        self.queries += 1
        if self.queries <= self.failures:
            raise self.error
        return self.value


def promql_branch(**extra: Any) -> dict[str, Any]:
    check = {"promql": {"query": "sum(up)", "operator": ">", "threshold": 0}}
    return {"name": "check", "condition": {"check": check, "then": "yes", "else": "no"}, **extra}


async def no_sleep(seconds: float) -> None:
    return None


async def test_a_prometheus_outage_is_retried_by_a_condition_with_retry(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    prometheus = FlakyPrometheus(PrometheusUnavailable("Prometheus did not answer: connection refused"), failures=2)
    engine = make_engine(promql=prometheus)
    engine.deps.sleep = no_sleep
    spec = template(promql_branch(retry=RETRY), rec("yes", next="end"), rec("no"))
    out = await engine.start(request=RunRequest(run_id="prom-retry", template=spec))
    assert out.phase == "Succeeded", out.message
    assert prometheus.queries == 3
    assert out.steps["check"]["attempts"] == 3
    assert ledger.done() == ["yes"]


async def test_a_prometheus_outage_without_retry_fails_as_transient(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    prometheus = FlakyPrometheus(PrometheusUnavailable("Prometheus did not answer: connection refused"), failures=1)
    engine = make_engine(promql=prometheus)
    spec = template(promql_branch(), rec("yes", next="end"), rec("no"))
    out = await engine.start(request=RunRequest(run_id="prom-once", template=spec))
    assert out.phase == "Failed"
    assert prometheus.queries == 1
    assert "connection refused" in out.steps["check"]["message"]
    assert ledger.done() == []


async def test_a_bad_query_is_not_retried(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    prometheus = FlakyPrometheus(InvalidQuery("query 'sum(' failed: parse error"), failures=5)
    engine = make_engine(promql=prometheus)
    engine.deps.sleep = no_sleep
    spec = template(promql_branch(retry=RETRY), rec("yes", next="end"), rec("no"))
    out = await engine.start(request=RunRequest(run_id="prom-bad", template=spec))
    assert out.phase == "Failed"
    assert prometheus.queries == 1
    assert out.steps["check"]["attempts"] == 1
    assert "parse error" in out.steps["check"]["message"]


async def test_a_connection_reset_is_retried_by_a_resource_check_with_retry(
    make_engine: Callable[..., Engine], api: FakeKubeApi, ledger: Ledger
) -> None:
    api.add(deployment())
    target = api.get("Deployment", "web", "shop")
    api.fail(method="GET", path_has="/deployments/web", error=ConnectionResetError("reset by peer"))
    engine = make_engine()
    engine.deps.sleep = no_sleep
    check = {"resource": {"field": "metadata.name", "value": "web"}}
    spec = template(
        {"name": "check", "retry": RETRY, "condition": {"check": check, "then": "yes", "else": "no"}},
        rec("yes", next="end"),
        rec("no"),
    )
    out = await engine.start(request=RunRequest(run_id="reset-retry", template=spec, target=target))
    assert out.phase == "Succeeded", out.message
    assert out.steps["check"]["attempts"] == 2
    assert ledger.done() == ["yes"]


async def test_a_connection_reset_without_retry_fails_the_step_once(
    make_engine: Callable[..., Engine], api: FakeKubeApi, ledger: Ledger
) -> None:
    api.add(deployment())
    target = api.get("Deployment", "web", "shop")
    api.fail(method="GET", path_has="/deployments/web", error=ConnectionResetError("reset by peer"))
    engine = make_engine()
    check = {"resource": {"field": "metadata.name", "value": "web"}}
    spec = template({"name": "check", "condition": {"check": check, "then": "yes", "else": "no"}}, rec("yes"))
    out = await engine.start(request=RunRequest(run_id="reset-once", template=spec, target=target))
    assert out.phase == "Failed"
    assert "did not answer" in out.steps["check"]["message"]
    assert out.steps["check"]["attempts"] == 1


class NoParams(BaseModel):
    pass


async def test_an_exception_outside_the_tree_is_a_bug_failed_at_once_and_named(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    calls: list[int] = []

    @action(name="buggy", family="test", params=NoParams, risk=Risk.LOW, rbac=())
    async def buggy(ctx: ActionContext, params: NoParams) -> ActionResult:
        """Fail the way a bug does."""
        calls.append(1)
        raise KeyError("replicas")

    registry = make_registry(ledger)
    registry.add(buggy)
    engine = make_engine(registry=registry)
    engine.deps.sleep = no_sleep
    spec = template({"name": "oops", "retry": RETRY, "action": {"name": "buggy"}})
    out = await engine.start(request=RunRequest(run_id="bug", template=spec))
    assert out.phase == "Failed"
    assert calls == [1]
    assert out.steps["oops"]["message"] == "KeyError: 'replicas'"


async def test_an_action_error_keeps_its_category_through_the_engine(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    engine = make_engine()
    engine.deps.sleep = no_sleep
    spec = template(
        {
            "name": "shaky",
            "retry": RETRY,
            "action": {"name": "flaky", "params": {"name": "shaky", "failures": 99, "category": "not-found"}},
        }
    )
    out = await engine.start(request=RunRequest(run_id="nf", template=spec))
    assert out.phase == "Failed"
    assert ledger.attempts["shaky"] == 1  # not-found is not retried
    assert out.steps["shaky"]["message"] == "flaky: failure 1"
