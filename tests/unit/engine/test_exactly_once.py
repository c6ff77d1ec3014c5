"""Exactly-once promises of the engine that need no second process: replays, waits, rollback flags, confinement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from suture.actions import load_registry
from suture.api import WorkflowTemplateSpec
from suture.engine import Engine, RecordingSink, RunRequest, StepProgress, open_checkpointer
from suture.engine.journal import MemoryJournal, idempotency_key
from suture.engine.progress import BestEffortSink
from suture.prometheus import PrometheusError
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment
from tests.unit.engine.fakes import FakeTemplates, Ledger, rec, template


async def test_a_resumed_wait_waits_only_for_what_is_left(make_engine: Callable[..., Engine]) -> None:
    journal = MemoryJournal()
    engine = make_engine(journal=journal)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    engine.deps.sleep = sleep
    engine.deps.clock = lambda: datetime.fromtimestamp(1000.0, UTC)
    # An earlier process reached the wait 40 s before "now" and then died.
    await journal.put(run_id="w1", key=f"{idempotency_key('w1', 'pause')}:reached", value={"at": 960.0})
    spec = template({"name": "pause", "wait": {"duration": "60s"}})
    outcome = await engine.start(request=RunRequest(run_id="w1", template=spec))
    assert outcome.phase == "Succeeded"
    assert slept == [20.0]


async def test_rollback_undoes_for_real_even_after_global_dry_run_was_turned_on(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    journal = MemoryJournal()
    spec = template(rec("change"), {"name": "ask", "approval": {}}, rec("never"))
    real = make_engine(journal=journal)
    await real.start(request=RunRequest(run_id="d1", template=spec))
    # The operator restarts with SUTURE_DRY_RUN=1, and the run is cancelled with rollback.
    dry = make_engine(journal=journal, dry_run=True)
    outcome = await dry.cancel(run_id="d1", rollback=True)
    assert outcome is not None
    assert outcome.phase == "Cancelled", outcome
    # The undo ran with the flag the change was made with (for real), not as a dry-run no-op.
    assert ledger.events == ["do:change", "undo:change"]


async def test_a_namespaced_templates_resource_check_cannot_read_another_namespace(engine: Engine) -> None:
    spec = template(
        {
            "name": "peek",
            "condition": {
                "check": {
                    "resource": {
                        "kind": "ConfigMap",
                        "name": "secrets-of-others",
                        "namespace": "payments",
                        "field": "data.password",
                        "operator": "Exists",
                    }
                }
            },
        }
    )
    outcome = await engine.start(request=RunRequest(run_id="c1", template=spec, namespace="shop"))
    assert outcome.phase == "Failed"
    assert "outside this template's namespace 'shop'" in outcome.message


async def test_resource_checks_never_read_secrets_or_cluster_objects_from_a_namespaced_template(
    engine: Engine,
) -> None:
    secret = {"kind": "Secret", "name": "db", "field": "data.password", "operator": "Exists"}
    node = {"kind": "Node", "name": "node-1", "field": "spec.unschedulable", "operator": "Exists"}
    for run_id, check in (("s1", secret), ("s2", node)):
        spec = template({"name": "peek", "condition": {"check": {"resource": check}}})
        outcome = await engine.start(request=RunRequest(run_id=run_id, template=spec, namespace="shop"))
        assert outcome.phase == "Failed", outcome
    assert "may not read Secrets" in (await engine.snapshot(run_id="s1")).message  # type: ignore[union-attr]
    assert "cluster-scoped" in (await engine.snapshot(run_id="s2")).message  # type: ignore[union-attr]


async def test_a_rollout_of_cluster_scoped_objects_is_refused_in_a_namespaced_template(engine: Engine) -> None:
    spec = template(
        {
            "name": "roll",
            "rollout": {
                "targets": {"apiVersion": "v1", "kind": "Node", "selector": {"matchLabels": {"pool": "a"}}},
                "action": {"name": "record", "params": {"name": "x"}},
            },
        }
    )
    outcome = await engine.start(request=RunRequest(run_id="n1", template=spec, namespace="shop"))
    assert outcome.phase == "Failed"
    assert "cluster-scoped object is outside this template's namespace" in outcome.message


async def test_a_rollout_obeys_the_templates_denied_namespaces(engine: Engine) -> None:
    spec = template(
        {
            "name": "roll",
            "rollout": {
                "targets": {"kind": "Deployment", "namespace": "kube-system", "selector": {"matchLabels": {"a": "b"}}},
                "action": {"name": "record", "params": {"name": "x"}},
            },
        }
    )
    outcome = await engine.start(request=RunRequest(run_id="k1", template=spec))
    assert outcome.phase == "Failed"
    assert "deny namespace 'kube-system'" in outcome.message


async def test_a_run_keeps_the_subflow_it_started_with(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    templates = FakeTemplates({"child": {"steps": [rec("original")]}})
    engine = make_engine(templates=templates)
    spec = template({"name": "ask", "approval": {}}, {"name": "call", "subflow": {"template": "child"}})
    await engine.start(request=RunRequest(run_id="sf1", template=spec))
    # Edited while the run waits: the run goes on with the version it started with.
    templates.templates["child"] = WorkflowTemplateSpec.model_validate({"steps": [rec("edited")]})
    outcome = await engine.approve(run_id="sf1", decision="Approved")
    assert outcome.phase == "Succeeded", outcome.message
    assert ledger.done() == ["original"]


class _FlakySink(RecordingSink):
    """Fails every write ``failures`` times before it lands (a 429 or 5xx from the API server)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        self.calls += 1
        if self.calls % (self.failures + 1):
            raise RuntimeError("429 Too Many Requests")
        await super().step(run_id=run_id, step=step)


async def test_status_writes_that_fail_never_fail_a_step(engine: Engine, ledger: Ledger) -> None:
    flaky = _FlakySink(failures=2)
    engine.deps.sink = BestEffortSink(flaky, delays=(0.0, 0.0, 0.0))
    outcome = await engine.start(request=RunRequest(run_id="sk1", template=template(rec("a"), rec("b"))))
    assert outcome.phase == "Succeeded"
    assert ledger.done() == ["a", "b"]
    assert flaky.step_phases("sk1", "b") == ["Running", "Succeeded"]  # every report landed on its third try


async def test_a_sink_that_never_answers_does_not_strand_the_run(engine: Engine, ledger: Ledger) -> None:
    engine.deps.sink = BestEffortSink(_FlakySink(failures=10**6), delays=(0.0,))
    outcome = await engine.start(request=RunRequest(run_id="sk2", template=template(rec("a"))))
    assert outcome.phase == "Succeeded"
    assert ledger.done() == ["a"]


class _PrometheusDown:
    async def query(self, *, query: str) -> float | None:
        raise PrometheusError("Prometheus at http://127.0.0.1:9 did not answer: connection refused")


async def test_a_rollout_whose_gate_cannot_be_read_still_gets_its_waves_undone(tmp_path: Path) -> None:
    api = FakeKubeApi()
    for name in ("a", "b"):
        obj = deployment(name, replicas=1)
        obj["metadata"]["labels"]["tier"] = "web"
        api.add(obj)
    spec = template(
        {
            "name": "roll",
            "onFailure": "rollback",
            "rollout": {
                "targets": {"kind": "Deployment", "namespace": "shop", "selector": {"matchLabels": {"tier": "web"}}},
                "waves": [50, 100],
                "action": {"name": "scale_deployment", "params": {"replicas": "${{ item.spec.replicas + 1 }}"}},
                "healthGate": {"check": {"promql": {"query": "up", "operator": ">", "threshold": 0}}},
            },
        }
    )
    async with open_checkpointer(location=str(tmp_path / "runs.sqlite")) as saver:
        engine = Engine(registry=load_registry(), kube=api.client(), checkpointer=saver, promql=_PrometheusDown())
        outcome = await engine.start(request=RunRequest(run_id="g1", template=spec, namespace="shop"))
    assert outcome.phase == "RolledBack", outcome.message
    assert api.get("Deployment", "a", "shop")["spec"]["replicas"] == 1  # wave 1 was applied, then undone
    scaled = [(w.name, w.body) for w in api.writes(kind="Deployment", persisted=True)]
    assert scaled == [("a", {"spec": {"replicas": 2}}), ("a", {"spec": {"replicas": 1}})]


async def test_an_approval_inside_a_subflow_works_and_the_steps_before_it_are_not_repeated(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    child = {"steps": [rec("before"), {"name": "ask", "approval": {"message": "go on?"}}, rec("after")]}
    engine = make_engine(templates=FakeTemplates({"child": child}))
    spec = template({"name": "call", "subflow": {"template": "child"}})
    waiting = await engine.start(request=RunRequest(run_id="sa1", template=spec))
    assert waiting.approval is not None
    assert waiting.approval.id == "call/ask"
    outcome = await engine.approve(run_id="sa1", decision="Approved", approval_id="call/ask")
    assert outcome.phase == "Succeeded", outcome.message
    assert ledger.done() == ["before", "after"]
