"""restart_network, reset_service_mesh, rotate_secrets and enable_debug_mode on the in-memory API server."""

from __future__ import annotations

from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import owned_by, pod, replicaset
from tests.unit.actions.helpers import CERTIFICATE, EXTERNAL_SECRET, run_ctx, workload

registry = load_registry()
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _restarted(api: FakeKubeApi, kind: str, name: str) -> Any:
    template = api.get(kind, name, "shop")["spec"]["template"]
    return (template.get("metadata", {}).get("annotations") or {}).get(RESTARTED_AT)


# -- restart_network -------------------------------------------------------------------


async def test_restart_network_deletes_only_the_daemonsets_pods_on_that_node_once() -> None:
    api = FakeKubeApi()
    (proxy,) = api.add(workload("kube-proxy", "kube-system", kind="DaemonSet"))
    (other,) = api.add(workload("logger", "kube-system", kind="DaemonSet"))
    api.add(
        owned_by(pod("kube-proxy-a", "kube-system", node="n1"), proxy),
        owned_by(pod("kube-proxy-b", "kube-system", node="n2"), proxy),
        owned_by(pod("logger-a", "kube-system", node="n1"), other),
    )
    params = {"node": "n1", "daemonSets": ["kube-system/kube-proxy"]}
    dry = await registry.invoke("restart_network", params, ActionContext(kube=api.client(), dry_run=True))
    assert "would restart kube-system/kube-proxy-a on node n1" in dry.message
    assert api.writes(persisted=True) == []

    ctx = run_ctx(api)
    result = await registry.invoke("restart_network", params, ctx)
    assert result.changed
    assert result.output["restarted"] == ["kube-system/kube-proxy-a"]
    assert sorted(p["metadata"]["name"] for p in api.objects("Pod")) == ["kube-proxy-b", "logger-a"]
    # The DaemonSet's replacement on n1 is not the pod this call chose: a replay leaves it alone.
    api.add(owned_by(pod("kube-proxy-c", "kube-system", node="n1"), proxy))
    replay = await registry.invoke("restart_network", params, ctx)
    assert replay.output["alreadyGone"] == ["kube-system/kube-proxy-a"]
    assert api.get("Pod", "kube-proxy-c", "kube-system")
    assert [w.method for w in api.writes(persisted=True)] == ["DELETE"]


async def test_restart_network_stays_inside_a_namespaced_template_and_names_missing_daemonsets() -> None:
    api = FakeKubeApi()
    ctx = ActionContext(kube=api.client(), allowed_namespace="shop")
    with pytest.raises(ActionError, match="outside this template's namespace") as caught:
        await registry.invoke("restart_network", {"node": "n1"}, ctx)
    assert caught.value.category is ErrorCategory.FORBIDDEN
    with pytest.raises(ActionError, match="DaemonSet kube-system/calico-node not found"):
        await registry.invoke(
            "restart_network", {"node": "n1", "daemonSets": ["kube-system/calico-node"]}, run_ctx(api)
        )
    with pytest.raises(ActionError, match="not namespace/name"):
        await registry.invoke("restart_network", {"node": "n1", "daemonSets": ["calico"]}, run_ctx(api))


# -- reset_service_mesh ----------------------------------------------------------------


def _meshed(api: FakeKubeApi, name: str, sidecar: str | None, *, init: bool = False) -> None:
    (dep,) = api.add(workload(name))
    (rs,) = api.add(owned_by(replicaset(f"{name}-rs"), dep))
    p = pod(f"{name}-rs-1")
    if sidecar:
        key = "initContainers" if init else "containers"
        p["spec"].setdefault(key, []).append({"name": sidecar, "image": "proxy"})
    api.add(owned_by(p, rs))


async def test_reset_service_mesh_rolls_only_workloads_whose_pods_carry_a_proxy() -> None:
    api = FakeKubeApi()
    _meshed(api, "web", "istio-proxy")
    _meshed(api, "api", "linkerd-proxy", init=True)  # a native sidecar
    _meshed(api, "batch", None)
    bare = pod("bare")
    bare["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    api.add(bare)

    dry = await registry.invoke(
        "reset_service_mesh", {"namespace": "shop"}, ActionContext(kube=api.client(), dry_run=True)
    )
    assert "would roll 2 meshed workload(s)" in dry.message
    assert api.writes(persisted=True) == []

    ctx = run_ctx(api)
    result = await registry.invoke("reset_service_mesh", {"namespace": "shop"}, ctx)
    assert result.changed
    assert result.output["workloads"] == ["Deployment/api (linkerd)", "Deployment/web (istio)"]
    assert result.output["unmanagedPods"] == ["bare"]
    stamp = result.output["restartedAt"]
    assert _restarted(api, "Deployment", "web") == stamp == _restarted(api, "Deployment", "api")
    assert _restarted(api, "Deployment", "batch") is None
    writes = len(api.writes(persisted=True))
    replay = await registry.invoke("reset_service_mesh", {"namespace": "shop"}, ctx)
    assert replay.changed
    assert replay.output["restartedAt"] == stamp
    assert len(api.writes(persisted=True)) == writes

    only_istio = await registry.invoke("reset_service_mesh", {"namespace": "shop", "mesh": "istio"}, run_ctx(api, "k2"))
    assert only_istio.output["workloads"] == ["Deployment/web (istio)"]


# -- rotate_secrets --------------------------------------------------------------------


def _es(name: str, target: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"secretStoreRef": {"name": "vault"}}
    if target:
        spec["target"] = {"name": target}
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": "shop"}, "spec": spec, "status": {"refreshTime": "t0"}}  # fmt: skip


def _consumers(api: FakeKubeApi) -> None:
    api.add(
        workload("by-volume", pod_spec={"containers": [{"name": "a", "image": "x"}],
                                        "volumes": [{"name": "s", "secret": {"secretName": "db-creds"}}]}),
        workload("by-env", kind="StatefulSet", pod_spec={"containers": [{"name": "a", "image": "x", "env": [
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "pw"}}}]}]}),
        workload("by-envfrom", pod_spec={"containers": [{"name": "a", "image": "x",
                                                         "envFrom": [{"secretRef": {"name": "other"}}]}]}),
    )  # fmt: skip


async def test_rotate_secrets_forces_an_external_secret_sync_then_rolls_its_consumers() -> None:
    api = FakeKubeApi()
    api.serve(EXTERNAL_SECRET)
    api.serve(CERTIFICATE)
    api.add(_es("db", target="db-creds"), _es("unrelated"))
    _consumers(api)
    params = {"namespace": "shop", "name": "db-creds", "timeout": "5s"}

    dry = await registry.invoke("rotate_secrets", params, ActionContext(kube=api.client(), dry_run=True))
    assert "would ask ExternalSecret/db to re-issue Secret db-creds and roll" in dry.message
    assert api.writes(persisted=True) == []

    def controller(request: Any, response: Any) -> None:  # External Secrets answering a force-sync
        es = api.get("ExternalSecret", "db", "shop")
        if (es["metadata"].get("annotations") or {}).get("force-sync") and es["status"]["refreshTime"] == "t0":
            api.add({**es, "status": {"refreshTime": "t1"}})

    api.after.append(controller)
    ctx = run_ctx(api)
    result = await registry.invoke("rotate_secrets", params, ctx)
    assert result.output["owner"] == "ExternalSecret/db"
    assert result.output["reissued"] == "t1"
    assert result.output["consumers"] == ["Deployment/by-volume", "StatefulSet/by-env"]
    stamp = result.output["stamp"]
    assert api.get("ExternalSecret", "db", "shop")["metadata"]["annotations"] == {"force-sync": stamp}
    assert _restarted(api, "Deployment", "by-volume") == stamp == _restarted(api, "StatefulSet", "by-env")
    assert _restarted(api, "Deployment", "by-envfrom") is None
    writes = len(api.writes(persisted=True))
    await registry.invoke("rotate_secrets", params, ctx)
    assert len(api.writes(persisted=True)) == writes  # a replay asks and rolls once
    assert not [r for r in api.requests if "/secrets" in r.path]  # the Secret itself is never read


async def test_rotate_secrets_reissues_a_certificate_and_times_out_without_its_controller() -> None:
    api = FakeKubeApi()
    api.serve(CERTIFICATE)  # External Secrets is not installed here: no ExternalSecret owns anything
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls", "namespace": "shop"},
            "spec": {"secretName": "tls-secret"},
            "status": {"revision": 3, "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    api.add(cert)
    with pytest.raises(ActionError, match="did not report a re-issue") as caught:
        await registry.invoke(
            "rotate_secrets", {"namespace": "shop", "name": "tls-secret", "timeout": "1s"}, run_ctx(api)
        )
    assert caught.value.category is ErrorCategory.TIMEOUT
    conditions = api.get("Certificate", "tls", "shop")["status"]["conditions"]
    issuing = next(c for c in conditions if c["type"] == "Issuing")
    assert issuing["status"] == "True"
    assert issuing["reason"] == "ManuallyTriggered"
    assert {"type": "Ready", "status": "True"} in conditions
    (write,) = api.writes(persisted=True)
    assert write.subresource == "status"
    with pytest.raises(ActionError, match="found none") as missing:
        await registry.invoke("rotate_secrets", {"namespace": "shop", "name": "nope"}, run_ctx(api))
    assert missing.value.category is ErrorCategory.NOT_FOUND


# -- enable_debug_mode -----------------------------------------------------------------


async def test_debug_mode_sets_env_and_annotations_and_undo_restores_them_exactly() -> None:
    api = FakeKubeApi()
    env = [{"name": "A", "value": "1"}, {"name": "LOG_LEVEL", "value": "info"}, {"name": "Z", "value": "2"}]
    api.add(workload("web", pod_spec={"containers": [{"name": "app", "image": "x", "env": env}]}))
    params = {"namespace": "shop", "name": "web", "env": {"LOG_LEVEL": "debug", "TRACE": "1"},
              "annotations": {"sidecar.istio.io/logLevel": "debug"}, "duration": "10m", "hold": False}  # fmt: skip
    dry = await registry.invoke("enable_debug_mode", params, ActionContext(kube=api.client(), dry_run=True))
    assert "would set LOG_LEVEL=debug, TRACE=1" in dry.message
    assert api.writes(persisted=True) == []

    ctx = run_ctx(api)
    result = await registry.invoke("enable_debug_mode", params, ctx)
    template = api.get("Deployment", "web", "shop")["spec"]["template"]
    assert template["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"}, {"name": "LOG_LEVEL", "value": "debug"}, {"name": "Z", "value": "2"},
        {"name": "TRACE", "value": "1"},
    ]  # fmt: skip
    annotations = template["metadata"]["annotations"]
    assert annotations["sidecar.istio.io/logLevel"] == "debug"
    assert annotations["suture.dev/debug-until"] == result.output["until"]
    replay = await registry.invoke("enable_debug_mode", params, ctx)
    assert replay.undo == result.undo  # the replay restores the original, not its own write
    assert result.undo is not None
    await registry.undo("enable_debug_mode", result.undo, ActionContext(kube=api.client()))
    restored = api.get("Deployment", "web", "shop")["spec"]["template"]
    assert restored["spec"]["containers"][0]["env"] == env
    assert restored["metadata"].get("annotations", {}) == {}


async def test_debug_mode_held_restores_by_itself_when_the_time_is_up() -> None:
    api = FakeKubeApi()
    api.add(workload("web"))
    params = {"namespace": "shop", "name": "web", "env": {"DEBUG": "1"}, "duration": "1s"}
    result = await registry.invoke("enable_debug_mode", params, run_ctx(api))
    assert result.output["held"] is True
    template = api.get("Deployment", "web", "shop")["spec"]["template"]
    assert "env" not in template["spec"]["containers"][0]
    patches = [w for w in api.writes(persisted=True) if w.method == "PATCH"]
    assert len(patches) == 2
    with pytest.raises(ActionError, match="give env or annotations"):
        registry.parse_params("enable_debug_mode", {"namespace": "shop", "name": "web"})
