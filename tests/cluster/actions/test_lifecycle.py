"""Lifecycle actions against the real API server: restarts, rollback, quarantine, cleanup, CronJob suspension."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import deployment, persisted, ready_pods, rolled_out, wait_for

registry = load_registry()
ACTIONS_WITHOUT_UNDO = ("restart_pod", "restart_workload", "delete_failed_pods")


async def _ready(kube: KubeClient, namespace: str, selector: str, count: int) -> list[dict[str, Any]] | None:
    pods = ready_pods(await kube.list("Pod", namespace, label_selector=selector))
    return pods if len(pods) == count else None


async def _not_found(name: str, params: dict[str, Any], kube: KubeClient) -> ActionError:
    with pytest.raises(ActionError) as caught:
        await registry.invoke(name, params, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.NOT_FOUND, caught.value
    return caught.value


@pytest.mark.parametrize("name", ACTIONS_WITHOUT_UNDO)
async def test_irreversible_actions_refuse_undo(kube: KubeClient, name: str) -> None:
    assert not registry.get(name).reversible
    with pytest.raises(ActionError) as caught:
        await registry.undo(name, {}, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.INVALID


async def test_restart_pod_deletes_that_incarnation_and_it_is_replaced(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    pods = await wait_for(lambda: _ready(kube, namespace, "app=web", 2), what="2 ready pods")
    victim = pods[0]["metadata"]
    params = {"namespace": namespace, "name": victim["name"], "uid": victim["uid"]}

    dry = await registry.invoke("restart_pod", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.message.startswith("dry-run: would delete")
    still = await kube.get("Pod", victim["name"], namespace)
    assert persisted(still) == persisted(pods[0])

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("restart_pod", params, ctx)
    assert result.changed
    assert result.undo is None
    assert result.output["uid"] == victim["uid"]
    assert result.output["owner"].startswith("ReplicaSet/web-")

    async def replaced() -> list[dict[str, Any]] | None:
        current = await _ready(kube, namespace, "app=web", 2)
        return current if current and victim["name"] not in {p["metadata"]["name"] for p in current} else None

    await wait_for(replaced, what="the restarted pod to be replaced")
    assert await kube.get_or_none("Pod", victim["name"], namespace) is None

    again = await registry.invoke("restart_pod", params, ctx)
    assert not again.changed
    assert "already gone" in again.message
    # Without the UID there is nothing to tell a finished restart from a wrong name.
    error = await _not_found("restart_pod", {"namespace": namespace, "name": victim["name"]}, kube)
    assert victim["name"] in str(error)


async def test_restart_pod_refuses_a_pod_nothing_would_recreate(kube: KubeClient, namespace: str) -> None:
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bare"},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
    }
    await kube.create("Pod", bare, namespace)
    with pytest.raises(ActionError) as caught:
        await registry.invoke("restart_pod", {"namespace": namespace, "name": "bare"}, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.INVALID
    assert "no controller" in str(caught.value)
    assert await kube.get_or_none("Pod", "bare", namespace) is not None


async def test_restart_workload_rolls_every_pod_once_per_token(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    before = await wait_for(lambda: rolled_out(kube, "Deployment", namespace, "web"), what="web rolled out")
    old_pods = {p["metadata"]["name"] for p in await kube.list("Pod", namespace, label_selector="app=web")}
    params = {"namespace": namespace, "name": "web", "token": "alert-42"}

    dry = await registry.invoke("restart_workload", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert persisted(await kube.get("Deployment", "web", namespace)) == persisted(before)

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("restart_workload", params, ctx)
    assert result.changed
    assert result.output["restartedAt"] == "alert-42"
    assert result.output["previous"] is None
    template = (await kube.get("Deployment", "web", namespace))["spec"]["template"]
    assert template["metadata"]["annotations"] == {"kubectl.kubernetes.io/restartedAt": "alert-42"}
    expected = copy.deepcopy(before["spec"]["template"])
    expected["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "alert-42"}
    assert template == expected

    async def rolled() -> bool:
        pods = await _ready(kube, namespace, "app=web", 2)
        names = {p["metadata"]["name"] for p in pods or []}
        return bool(pods) and not names & old_pods and bool(await rolled_out(kube, "Deployment", namespace, "web"))

    await wait_for(rolled, what="every pod to be replaced")

    again = await registry.invoke("restart_workload", params, ctx)
    assert not again.changed
    assert "already restarted" in again.message

    untokened = await registry.invoke("restart_workload", {"namespace": namespace, "name": "web"}, ctx)
    assert untokened.changed
    assert untokened.output["previous"] == "alert-42"
    assert untokened.output["restartedAt"].endswith("Z")

    await _not_found("restart_workload", {"namespace": namespace, "name": "nope"}, kube)
    await _not_found("restart_workload", {"namespace": namespace, "name": "web", "kind": "StatefulSet"}, kube)


async def _revisions(kube: KubeClient, namespace: str, count: int) -> list[dict[str, Any]] | None:
    owned = [
        rs
        for rs in await kube.list("ReplicaSet", namespace, label_selector="app=web")
        if rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
    ]
    return owned if len(owned) == count else None


async def test_rollback_deployment_returns_the_previous_template(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    v1 = await wait_for(lambda: rolled_out(kube, "Deployment", namespace, "web"), what="revision 1")
    await kube.patch(
        "Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
        namespace,
        patch_type="strategic",
    )
    await wait_for(lambda: _revisions(kube, namespace, 2), what="two ReplicaSets")
    v2 = await wait_for(lambda: rolled_out(kube, "Deployment", namespace, "web"), what="revision 2")
    assert v2["spec"]["template"] != v1["spec"]["template"]
    params = {"namespace": namespace, "name": "web"}

    dry = await registry.invoke("rollback_deployment", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.output["revision"] == 1
    assert persisted(await kube.get("Deployment", "web", namespace)) == persisted(v2)

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("rollback_deployment", params, ctx)
    assert result.changed
    assert result.output["revision"] == 1
    rolled = await kube.get("Deployment", "web", namespace)
    assert rolled["spec"]["template"] == v1["spec"]["template"]

    async def pods_on(image: str) -> bool:
        pods = await _ready(kube, namespace, "app=web", 2)
        return (
            bool(pods)
            and all(p["spec"]["containers"][0]["image"] == image for p in pods or [])
            and bool(await rolled_out(kube, "Deployment", namespace, "web"))
        )

    await wait_for(lambda: pods_on("nginx:1.27"), what="pods back on nginx:1.27")

    # The controller renumbers the old ReplicaSet to revision 3; neither form of a
    # second call may flip back to the template just left.
    again = await registry.invoke("rollback_deployment", params, ctx)
    assert not again.changed
    by_number = await registry.invoke("rollback_deployment", {**params, "revision": 1}, ctx)
    assert not by_number.changed
    assert (await kube.get("Deployment", "web", namespace))["spec"]["template"] == v1["spec"]["template"]

    assert result.undo is not None
    undone = await registry.undo("rollback_deployment", result.undo, ctx)
    assert undone.changed
    restored = await kube.get("Deployment", "web", namespace)
    assert restored["spec"]["template"] == v2["spec"]["template"]
    assert "suture.dev/rolled-back-to" not in restored["metadata"].get("annotations", {})
    await wait_for(lambda: pods_on("nginx:1.28"), what="pods on nginx:1.28 again")
    assert not (await registry.undo("rollback_deployment", result.undo, ctx)).changed

    missing = await _not_found("rollback_deployment", {**params, "revision": 7}, kube)
    assert "no revision 7" in str(missing)
    await _not_found("rollback_deployment", {**params, "name": "nope"}, kube)


async def test_rollback_deployment_without_history_is_refused(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    await wait_for(lambda: _revisions(kube, namespace, 1), what="revision 1")
    with pytest.raises(ActionError) as caught:
        await registry.invoke("rollback_deployment", {"namespace": namespace, "name": "web"}, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.INVALID
    assert "no revision before" in str(caught.value)


async def test_quarantine_pod_takes_it_out_of_service_and_controller(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    await kube.create("Service", service, namespace)
    pods = await wait_for(lambda: _ready(kube, namespace, "app=web", 2), what="2 ready pods")
    victim = pods[0]["metadata"]
    labels = dict(victim["labels"])
    params = {"namespace": namespace, "name": victim["name"]}

    async def endpoint_pods() -> set[str]:
        slices = await kube.list(
            "EndpointSlice",
            namespace,
            api_version="discovery.k8s.io/v1",
            label_selector="kubernetes.io/service-name=web",
        )
        return {e["targetRef"]["name"] for s in slices for e in s.get("endpoints") or [] if e.get("targetRef")}

    await wait_for(lambda: _has(endpoint_pods, victim["name"]), what="the pod behind its Service")

    dry = await registry.invoke("quarantine_pod", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert persisted(await kube.get("Pod", victim["name"], namespace)) == persisted(pods[0])

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("quarantine_pod", params, ctx)
    assert result.changed
    assert result.output["removedLabels"] == labels  # app and pod-template-hash: all that the selectors use
    assert result.output["services"] == ["web"]
    quarantined = await kube.get("Pod", victim["name"], namespace)
    assert quarantined["metadata"]["labels"] == {"suture.dev/quarantined": "true"}
    assert quarantined["metadata"]["uid"] == victim["uid"]

    async def replaced_and_released() -> bool:
        ready = await _ready(kube, namespace, "app=web", 2)
        pod = await kube.get("Pod", victim["name"], namespace)
        return bool(ready) and not pod["metadata"].get("ownerReferences") and pod["status"]["phase"] == "Running"

    await wait_for(replaced_and_released, what="a replacement pod and the quarantined pod orphaned")
    await wait_for(lambda: _lacks(endpoint_pods, victim["name"]), what="the pod out of its Service")

    again = await registry.invoke("quarantine_pod", params, ctx)
    assert not again.changed
    assert again.output["removedLabels"] == labels

    # With its labels back the ReplicaSet would adopt the pod and then remove a
    # surplus one, perhaps this one; without the ReplicaSet the check is exact.
    await kube.delete("Deployment", "web", namespace)
    await wait_for(lambda: _no_replicasets(kube, namespace), what="the ReplicaSet to go")
    assert result.undo is not None
    undone = await registry.undo("quarantine_pod", result.undo, ctx)
    assert undone.changed
    restored = await kube.get("Pod", victim["name"], namespace)
    assert restored["metadata"]["labels"] == labels
    assert restored["metadata"].get("annotations", {}) == victim.get("annotations", {})
    assert not (await registry.undo("quarantine_pod", result.undo, ctx)).changed

    await _not_found("quarantine_pod", {"namespace": namespace, "name": "nope"}, kube)


async def _no_replicasets(kube: KubeClient, namespace: str) -> bool:
    return not await kube.list("ReplicaSet", namespace)


async def _has(probe: Any, name: str) -> bool:
    return name in await probe()


async def _lacks(probe: Any, name: str) -> bool:
    return name not in await probe()


async def test_quarantine_refuses_a_statefulset_pod(kube: KubeClient, namespace: str) -> None:
    manifest = deployment("db", 1)
    manifest["kind"] = "StatefulSet"
    manifest["spec"]["serviceName"] = "db"
    await kube.create("StatefulSet", manifest, namespace)
    await wait_for(lambda: _ready(kube, namespace, "app=db", 1), what="db-0 ready")
    with pytest.raises(ActionError) as caught:
        await registry.invoke("quarantine_pod", {"namespace": namespace, "name": "db-0"}, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.INVALID
    assert "StatefulSet db" in str(caught.value)
    assert (await kube.get("Pod", "db-0", namespace))["metadata"]["labels"]["app"] == "db"


async def test_delete_failed_pods_deletes_only_failed_ones(kube: KubeClient, namespace: str) -> None:
    for name, group in (("a", "x"), ("b", "x"), ("c", "y")):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"group": group}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]},
        }
        await kube.create("Pod", pod, namespace)
    await wait_for(lambda: _ready(kube, namespace, "group", 3), what="3 running pods")
    failed = {}
    for name in ("a", "c"):
        failed[name] = await kube.patch(
            "Pod", name, {"status": {"phase": "Failed", "reason": "Evicted"}}, namespace, subresource="status"
        )

    async def names() -> set[str]:
        return {p["metadata"]["name"] for p in await kube.list("Pod", namespace)}

    dry = await registry.invoke("delete_failed_pods", {"namespace": namespace}, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.output == {"namespace": namespace, "count": 2, "deleted": ["a", "c"]}
    assert await names() == {"a", "b", "c"}
    for name, before in failed.items():
        assert persisted(await kube.get("Pod", name, namespace)) == persisted(before)

    ctx = ActionContext(kube=kube)
    some = await registry.invoke("delete_failed_pods", {"namespace": namespace, "selector": "group=x"}, ctx)
    assert some.changed
    assert some.output["deleted"] == ["a"]
    assert some.undo is None
    await wait_for(lambda: _equals(names, {"b", "c"}), what="a deleted")

    rest = await registry.invoke("delete_failed_pods", {"namespace": namespace}, ctx)
    assert rest.output == {"namespace": namespace, "count": 1, "deleted": ["c"]}
    await wait_for(lambda: _equals(names, {"b"}), what="c deleted")

    again = await registry.invoke("delete_failed_pods", {"namespace": namespace}, ctx)
    assert not again.changed
    assert again.output["count"] == 0
    assert await names() == {"b"}

    await _not_found("delete_failed_pods", {"namespace": "no-such-namespace"}, kube)


async def _equals(probe: Any, want: set[str]) -> bool:
    return bool(await probe() == want)


async def test_suspend_and_resume_cronjob_undo_each_other(kube: KubeClient, namespace: str) -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "report"},
        "spec": {
            "schedule": "0 0 1 1 *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}
                    }
                }
            },
        },
    }
    created = await kube.create("CronJob", cronjob, namespace)
    assert created["spec"]["suspend"] is False
    params = {"namespace": namespace, "name": "report"}

    dry = await registry.invoke("suspend_cronjob", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.message == f"dry-run: would suspend CronJob {namespace}/report"
    after_dry = await kube.get("CronJob", "report", namespace)
    assert persisted(after_dry) == persisted(created)

    ctx = ActionContext(kube=kube)
    noop = await registry.invoke("resume_cronjob", params, ctx)
    assert not noop.changed

    suspended = await registry.invoke("suspend_cronjob", params, ctx)
    assert suspended.changed
    assert (await kube.get("CronJob", "report", namespace))["spec"]["suspend"] is True
    assert not (await registry.invoke("suspend_cronjob", params, ctx)).changed

    assert suspended.undo is not None
    undone = await registry.undo("suspend_cronjob", suspended.undo, ctx)
    assert undone.changed
    assert (await kube.get("CronJob", "report", namespace))["spec"] == created["spec"]

    assert (await registry.invoke("suspend_cronjob", params, ctx)).output["suspend"] is True
    before_resume = await kube.get("CronJob", "report", namespace)
    dry_resume = await registry.invoke("resume_cronjob", params, ActionContext(kube=kube, dry_run=True))
    assert dry_resume.message == f"dry-run: would resume CronJob {namespace}/report"
    after_dry_resume = await kube.get("CronJob", "report", namespace)
    assert persisted(after_dry_resume) == persisted(before_resume)
    resumed = await registry.invoke("resume_cronjob", params, ctx)
    assert resumed.changed
    assert (await kube.get("CronJob", "report", namespace))["spec"] == created["spec"]
    assert resumed.undo is not None
    await registry.undo("resume_cronjob", resumed.undo, ctx)
    assert (await kube.get("CronJob", "report", namespace))["spec"]["suspend"] is True

    for name in ("suspend_cronjob", "resume_cronjob"):
        await _not_found(name, {"namespace": namespace, "name": "nope"}, kube)
