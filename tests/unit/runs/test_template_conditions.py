"""A template's two status writers, ``Valid`` (validation) and ``Failing`` with the stats (decided runs), never
drop each other's condition; and a template's record is its own namespace's runs, not every template of its name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import REGISTRY

from suture.api import API_VERSION
from suture.kube import KubeClient, KubeRequest, write_condition
from suture.store import History
from suture.validation import write_valid_condition
from suture.verify import HistoryLearner
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation, template

FAILING = {"type": "Failing", "status": "True", "reason": "KeepsFailing", "message": "the last 3 decided runs"}


def conditions(api: FakeKubeApi, name: str = "restart", namespace: str = "shop") -> dict[str, dict[str, Any]]:
    status = api.get("WorkflowTemplate", name, namespace).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


async def fail_runs(learner: HistoryLearner, namespace: str, count: int, outcome: str = "Ineffective") -> None:
    """``count`` runs of template ``restart`` in ``namespace`` decided ``outcome``, through the learner."""
    for i in range(count):
        body = remediation(f"{namespace}-{outcome}-{i}", namespace=namespace)
        body["metadata"]["uid"] = f"uid-{namespace}-{outcome}-{i}"
        body["status"] = {"phase": "Failed", "startTime": f"2026-11-29T06:0{i}:00Z"}
        await learner.record(
            alert={},
            template="restart",
            outcome=outcome,
            run_id=body["metadata"]["uid"],
            remediation=body,
            phase="Failed",
        )


async def test_revalidating_from_a_stale_copy_keeps_the_failing_condition(api: FakeKubeApi, kube: KubeClient) -> None:
    (stale,) = api.add(template())
    assert (await write_valid_condition(kube, stale, registry=None) or {}).get("status") == "True"
    await kube.patch(
        "WorkflowTemplate",
        "restart",
        {"status": {"conditions": [*conditions(api).values(), FAILING]}},
        "shop",
        subresource="status",
    )
    # The template's spec is edited: validation runs again, from a copy read before Failing was set.
    await kube.patch("WorkflowTemplate", "restart", {"spec": {"description": "edited"}}, "shop")
    assert "status" not in stale  # the copy knows neither condition
    valid = await write_valid_condition(kube, stale, registry=None)
    got = api.get("WorkflowTemplate", "restart", "shop")
    assert [c["type"] for c in got["status"]["conditions"]] == ["Valid", "Failing"]
    assert conditions(api)["Failing"]["status"] == "True"
    # ... and Valid is the verdict on the template as it is now, not on the stale copy.
    assert valid is not None
    assert valid["observedGeneration"] == got["metadata"]["generation"] == got["status"]["observedGeneration"] == 2


async def test_an_unchanged_verdict_writes_nothing(api: FakeKubeApi, kube: KubeClient) -> None:
    (body,) = api.add(template())
    await write_valid_condition(kube, body, registry=None)
    version = api.get("WorkflowTemplate", "restart", "shop")["metadata"]["resourceVersion"]
    stamp = conditions(api)["Valid"]["lastTransitionTime"]
    await write_valid_condition(kube, body, registry=None)  # a resume: same generation, same verdict
    assert api.get("WorkflowTemplate", "restart", "shop")["metadata"]["resourceVersion"] == version
    assert conditions(api)["Valid"]["lastTransitionTime"] == stamp


async def test_a_condition_written_between_the_read_and_the_patch_is_kept(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(template())
    reads: list[str] = []

    def other_writer_first(request: KubeRequest) -> None:
        if request.method == "PATCH" and len(reads) == 1:  # the Failing writer gets there after this one read
            current = api.get("WorkflowTemplate", "restart", "shop")
            current["status"] = {"conditions": [FAILING]}
            api.add(current)  # a new resourceVersion

    def build(current: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        reads.append(str(current["metadata"]["resourceVersion"]))
        return {"type": "Valid", "status": "True", "reason": "Validated", "message": "ok"}, {}

    api.before.append(other_writer_first)
    written = await write_condition(kube, "WorkflowTemplate", "restart", "shop", api_version=API_VERSION, build=build)
    assert (written or {}).get("type") == "Valid"
    assert len(set(reads)) == 2  # the conflict made it read again
    assert [c["type"] for c in conditions(api).values()] == ["Failing", "Valid"]


async def test_same_named_templates_in_two_namespaces_keep_their_own_record(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    api.add(template(namespace="shop"), template(namespace="blog"))
    learner = HistoryLearner(history=history, kube=kube)
    await fail_runs(learner, "shop", 3)
    await fail_runs(learner, "blog", 1, outcome="Effective")
    assert conditions(api, namespace="shop")["Failing"]["status"] == "True"
    assert conditions(api, namespace="blog")["Failing"]["status"] == "False"
    assert conditions(api, namespace="blog")["Failing"]["message"] == "1 of 1 decided runs were Effective"
    shop = api.get("WorkflowTemplate", "restart", "shop")["status"]["stats"]
    blog = api.get("WorkflowTemplate", "restart", "blog")["status"]["stats"]
    assert (shop["runs"], shop["failed"], blog["runs"], blog["succeeded"]) == (3, 3, 1, 1)
    failing = "suture_template_failing"
    assert REGISTRY.get_sample_value(failing, {"namespace": "shop", "template": "restart"}) == 1.0
    assert REGISTRY.get_sample_value(failing, {"namespace": "blog", "template": "restart"}) == 0.0


async def test_a_cluster_template_counts_every_namespace(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    api.add(template("fleet", namespace=None))
    learner = HistoryLearner(history=history, kube=kube)
    for namespace in ("shop", "blog", "wiki"):
        body = remediation(
            f"r-{namespace}", namespace=namespace, template="fleet", template_kind="ClusterWorkflowTemplate"
        )
        body["metadata"]["uid"] = f"uid-{namespace}"
        body["status"] = {"phase": "Failed"}
        await learner.record(
            alert={},
            template="fleet",
            outcome="Ineffective",
            run_id=f"uid-{namespace}",
            remediation=body,
            phase="Failed",
        )
    status = api.get("ClusterWorkflowTemplate", "fleet")["status"]
    assert status["stats"]["runs"] == 3
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Failing": "True"}
    assert REGISTRY.get_sample_value("suture_template_failing", {"namespace": "", "template": "fleet"}) == 1.0


async def test_a_cluster_template_is_validated_where_it_lives(api: FakeKubeApi, kube: KubeClient) -> None:
    (body,) = api.add(template("fleet", namespace=None, steps=[{"name": "one"}]))  # a step with nothing to do
    valid = await write_valid_condition(kube, body, registry=None)
    assert (valid or {}).get("status") == "False"
    stored = api.get("ClusterWorkflowTemplate", "fleet")["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in stored] == [("Valid", "False")]
    assert await write_valid_condition(kube, {**body, "metadata": {"name": "gone"}}, registry=None) is None  # deleted
