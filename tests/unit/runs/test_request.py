"""From a Remediation to an engine request, or a refusal with its reason, before any action runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suture.kube import KubeClient
from suture.runs import RunRefused, build_run_request
from suture.runs.history_row import run_record
from suture.store import History
from tests.fakes.history import started
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import namespace, remediation, seed_pod_chain, template

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POD_TARGET = {"kind": "Pod", "namespace": "${{ alert.labels.namespace }}", "name": "${{ alert.labels.pod }}"}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def refusal(body: dict[str, Any], kube: KubeClient, history: History) -> RunRefused:
    with pytest.raises(RunRefused) as caught:
        await build_run_request(body, kube=kube, history=history, now=NOW)
    return caught.value


async def test_a_remediation_becomes_a_request_for_the_pods_deployment(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    dep, _, _ = seed_pod_chain(api)
    api.add(template(target={**POD_TARGET, "owner": "Deployment"}))
    (rem,) = api.add(remediation(variables={"replicas": 2}, dryRun=True))
    request, tpl = await build_run_request(rem, kube=kube, history=history, now=NOW)
    assert request.run_id == rem["metadata"]["uid"]
    assert request.target is not None
    assert request.target["metadata"]["uid"] == dep["metadata"]["uid"]
    assert request.target["apiVersion"] == "apps/v1"
    assert request.namespace == "shop"
    assert request.remediation == "shop/crashloop-1"
    assert request.dry_run is True
    assert request.variables == {"replicas": 2}
    assert request.alert["labels"]["pod"] == "web-5d8f7c9b4-abcde"
    assert request.owner["uid"] == rem["metadata"]["uid"]
    assert tpl.metadata["name"] == "restart"
    assert api.writes() == []  # deciding writes nothing


async def test_a_missing_template_is_refused(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "TemplateNotFound"
    assert "in namespace 'shop'" in refused.message


async def test_a_missing_cluster_template_is_named_without_a_namespace(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    (rem,) = api.add(remediation(template_kind="ClusterWorkflowTemplate"))
    refused = await refusal(rem, kube, history)
    assert refused.message == "ClusterWorkflowTemplate 'restart' not found"


async def test_an_invalid_template_is_refused_with_its_first_problems(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    api.add(template(steps=[{"name": "one", "action": {"name": "record"}, "next": "nowhere"}]))
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "InvalidTemplate"
    assert "nowhere" in refused.message


async def test_an_invalid_remediation_is_refused(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    body = remediation()
    del body["spec"]["templateRef"]
    refused = await refusal(body, kube, history)
    assert refused.reason == "InvalidRemediation"


async def test_a_target_that_does_not_resolve_is_refused(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    api.add(template(target=POD_TARGET))
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "TargetUnresolved"
    assert "not found" in refused.message


async def test_a_namespaced_template_is_confined_to_its_namespace(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    seed_pod_chain(api, namespace="other")
    api.add(template(target=POD_TARGET))
    (rem,) = api.add(remediation(labels={"namespace": "other"}))
    refused = await refusal(rem, kube, history)
    assert refused.reason == "TargetUnresolved"
    assert "outside the template's namespace 'shop'" in refused.message


async def test_an_explicit_target_outside_the_namespace_is_denied(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, p = seed_pod_chain(api, namespace="other")
    api.add(template())
    ref = {"apiVersion": "v1", "kind": "Pod", "namespace": "other", "name": p["metadata"]["name"]}
    (rem,) = api.add(remediation(target=ref))
    refused = await refusal(rem, kube, history)
    assert refused.reason == "NamespaceDenied"


async def test_an_explicit_target_that_is_gone_or_replaced_is_refused(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, p = seed_pod_chain(api)
    api.add(template())
    ref = {"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": p["metadata"]["name"], "uid": "old-uid"}
    (replaced,) = api.add(remediation(target=ref))
    assert (await refusal(replaced, kube, history)).reason == "TargetReplaced"
    (gone,) = api.add(remediation("gone", target={**ref, "name": "ghost"}))
    assert (await refusal(gone, kube, history)).reason == "TargetNotFound"
    (ok,) = api.add(remediation("ok", target={**ref, "uid": p["metadata"]["uid"]}))
    request, _ = await build_run_request(ok, kube=kube, history=history, now=NOW)
    assert request.target is not None
    assert request.target["metadata"]["name"] == p["metadata"]["name"]


@pytest.mark.parametrize(
    "safety",
    [{"deniedNamespaces": ["shop"]}, {"allowedNamespaces": ["elsewhere"]}],
)
async def test_the_templates_safety_rules_deny_namespaces(
    api: FakeKubeApi, kube: KubeClient, history: History, safety: dict[str, Any]
) -> None:
    seed_pod_chain(api)
    api.add(template(target=POD_TARGET, safety=safety))
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "NamespaceDenied"
    assert "deny namespace 'shop'" in refused.message


async def test_a_cluster_template_may_target_any_namespace_but_kube_system(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    seed_pod_chain(api, namespace="kube-system")
    cluster_template = template(namespace=None, target=POD_TARGET)
    cluster_template["spec"]["allowedRemediationNamespaces"] = ["shop"]
    api.add(namespace("kube-system"), cluster_template)
    (rem,) = api.add(remediation(template_kind="ClusterWorkflowTemplate", labels={"namespace": "kube-system"}))
    refused = await refusal(rem, kube, history)
    assert refused.reason == "NamespaceDenied"


async def test_a_run_on_the_same_target_within_the_cooldown_is_refused(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, p = seed_pod_chain(api)
    api.add(template(target=POD_TARGET, safety={"cooldown": "30m"}))
    await started(history, "before", now=NOW, minutes_ago=10, target_uid=p["metadata"]["uid"])
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "Cooldown"
    assert refused.message.startswith("before ran 'restart' on the same target at 2026-11-29T11:50:00Z")


async def test_a_run_after_the_cooldown_or_on_another_target_may_start(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, p = seed_pod_chain(api)
    api.add(template(target=POD_TARGET, safety={"cooldown": "5m"}))
    await started(history, "long-ago", now=NOW, minutes_ago=10, target_uid=p["metadata"]["uid"])
    await started(history, "elsewhere", now=NOW, minutes_ago=1, target_uid="another-pod")
    await started(history, "other-template", now=NOW, minutes_ago=1, target_uid=p["metadata"]["uid"], template="x")
    await started(history, "other-namespace", now=NOW, minutes_ago=1, target_uid=p["metadata"]["uid"], namespace="b")
    (rem,) = api.add(remediation())
    request, _ = await build_run_request(rem, kube=kube, history=history, now=NOW)
    assert request.run_id == rem["metadata"]["uid"]


async def test_a_cooldown_longer_than_an_hour_holds_for_all_of_it(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, p = seed_pod_chain(api)
    api.add(template(target=POD_TARGET, safety={"cooldown": "3h"}))
    await started(history, "before", now=NOW, minutes_ago=150, target_uid=p["metadata"]["uid"])
    (rem,) = api.add(remediation())
    assert (await refusal(rem, kube, history)).reason == "Cooldown"


async def test_runs_past_the_hourly_budget_are_refused(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    api.add(template(safety={"maxRunsPerHour": 2, "cooldown": "0s"}))
    await started(history, "a", now=NOW, minutes_ago=5)
    await started(history, "b", now=NOW, minutes_ago=50)
    await started(history, "c", now=NOW, minutes_ago=70)  # outside the hour
    await started(history, "d", now=NOW, minutes_ago=5, namespace="elsewhere")  # another namespace's template
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "RateLimited"
    assert refused.message.startswith("2 runs of 'restart' in the last hour")


async def test_a_run_does_not_count_against_itself(api: FakeKubeApi, kube: KubeClient, history: History) -> None:
    api.add(template(safety={"maxRunsPerHour": 1, "cooldown": "0s"}))
    (rem,) = api.add(remediation())
    await history.record_start(run_record(rem, phase="Running", started_at=NOW - timedelta(minutes=1)))
    request, _ = await build_run_request(rem, kube=kube, history=history, now=NOW)
    assert request.run_id == rem["metadata"]["uid"]


async def test_a_cluster_template_counts_its_runs_in_every_namespace(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    api.add(template(namespace=None, safety={"maxRunsPerHour": 2, "cooldown": "0s"}))
    await started(history, "a", now=NOW, minutes_ago=5, namespace="one")
    await started(history, "b", now=NOW, minutes_ago=5, namespace="two")
    (rem,) = api.add(remediation(template_kind="ClusterWorkflowTemplate"))
    with pytest.raises(RunRefused) as caught:
        await build_run_request(rem, kube=kube, history=history, now=NOW, home_namespace="shop")
    assert caught.value.reason == "RateLimited"


async def test_names_that_are_no_object_names_are_refused_not_sent(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    api.add(template())
    bad_target = remediation(target={"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "a/../b"})
    bad_template = remediation(template="x/../y")
    assert (await refusal(bad_target, kube, history)).message.startswith("target: name 'a/../b'")
    assert (await refusal(bad_template, kube, history)).reason == "InvalidRemediation"
    assert all("/../" not in r.path for r in api.requests)


async def test_a_cluster_template_runs_only_from_the_namespaces_it_allows(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    seed_pod_chain(api)
    api.add(template(namespace=None, target=POD_TARGET))
    (rem,) = api.add(remediation(template_kind="ClusterWorkflowTemplate"))
    refused = await refusal(rem, kube, history)
    assert refused.reason == "NamespaceDenied"
    assert "may not be run from namespace 'shop'" in refused.message
    # The operator's own namespace (where its receiver creates Remediations) is allowed by default.
    request, _ = await build_run_request(rem, kube=kube, history=history, now=NOW, home_namespace="shop")
    assert request.target is not None


async def test_a_remediation_cannot_swap_the_kind_of_target_or_a_locked_variable(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    _, _, pod = seed_pod_chain(api)
    api.add(template(target={**POD_TARGET, "owner": "Deployment"}, safety={"lockedVariables": ["cap"]}))
    ref = {"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": pod["metadata"]["name"]}
    (swapped,) = api.add(remediation(target=ref))
    refused = await refusal(swapped, kube, history)
    assert refused.reason == "TargetKindMismatch"
    assert "acts on Deployment" in refused.message
    (greedy,) = api.add(remediation("greedy", variables={"cap": "64Gi"}))
    refused = await refusal(greedy, kube, history)
    assert (refused.reason, refused.message) == (
        "LockedVariable",
        "template 'restart' does not let a Remediation override cap",
    )


async def test_a_template_the_operator_found_invalid_never_starts(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    seed_pod_chain(api)
    invalid = template(target=POD_TARGET)
    invalid["metadata"]["generation"] = 3
    invalid["status"] = {
        "conditions": [
            {"type": "Valid", "status": "False", "observedGeneration": 3, "message": "unknown action 'scale_deploymnt'"}
        ]
    }
    api.add(invalid)
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "InvalidTemplate"
    assert "unknown action 'scale_deploymnt'" in refused.message


async def test_the_cooldown_sees_a_started_run_whose_target_was_resolved_from_its_alert(
    api: FakeKubeApi, kube: KubeClient, history: History
) -> None:
    # The run start records the target it resolved (status.target), with its UID, in the history row.
    _, _, p = seed_pod_chain(api)
    api.add(template(target=POD_TARGET, safety={"cooldown": "30m"}))
    (earlier,) = api.add(remediation("from-an-alert"))
    status = {
        "startTime": stamp(NOW - timedelta(minutes=10)),
        "target": {"apiVersion": "v1", "kind": "Pod", "name": "x", "uid": p["metadata"]["uid"]},
    }
    await history.record_start(run_record(earlier, phase="Running", started_at=NOW, status=status))
    (rem,) = api.add(remediation())
    refused = await refusal(rem, kube, history)
    assert refused.reason == "Cooldown"
    assert refused.message.startswith("from-an-alert ran")
