"""The GitOps safety rule as a Remediation meets it: refused with the reason, suspend lists what to pause."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from suture.actions import load_registry
from suture.errors import RunRefused
from suture.runs import build_run_request
from tests.fakes.history import sqlite_history
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment, owned_by, pod, remediation, replicaset, template

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TO_DEPLOYMENT = {
    "kind": "Pod",
    "namespace": "${{ alert.labels.namespace }}",
    "name": "${{ alert.labels.pod }}",
    "owner": "Deployment",
}
TO_POD = {k: v for k, v in TO_DEPLOYMENT.items() if k != "owner"}
FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def seed(api: FakeKubeApi, **deployment_meta: Any) -> None:
    dep = deployment()
    dep["metadata"].update(deployment_meta)
    (dep,) = api.add(dep)
    (rs,) = api.add(owned_by(replicaset(), dep))
    api.add(owned_by(pod(), rs))


async def request_for(
    api: FakeKubeApi, *, gitops: str | None, target: dict[str, Any] = TO_DEPLOYMENT, registry: Any = None, **tpl: Any
) -> Any:
    safety = {"cooldown": "0s"} | ({"gitops": gitops} if gitops else {})
    api.add(template(target=target, safety=safety, **tpl))
    (rem,) = api.add(remediation())
    async with sqlite_history() as history:
        request, _ = await build_run_request(rem, kube=api.client(), history=history, now=NOW, registry=registry)
    return request


async def test_a_flux_managed_target_is_refused_by_default_with_the_reason() -> None:
    api = FakeKubeApi()
    seed(api, labels={"app": "web", **FLUX})
    with pytest.raises(RunRefused) as caught:
        await request_for(api, gitops=None)
    assert caught.value.reason == "GitOpsManaged"
    assert "Deployment shop/web is managed by Flux" in caught.value.message
    assert "kustomize.toolkit.fluxcd.io/name=apps" in caught.value.message
    assert "safety.gitops: suspend" in caught.value.message
    assert api.writes() == []


async def test_an_owner_managed_by_argocd_refuses_a_run_on_its_pod() -> None:
    api = FakeKubeApi()
    seed(api, annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"})
    with pytest.raises(RunRefused) as caught:
        await request_for(api, gitops="refuse", target=TO_POD)
    assert caught.value.reason == "GitOpsManaged"
    assert "Argo CD" in caught.value.message


async def test_suspend_lists_the_controllers_the_engine_pauses() -> None:
    api = FakeKubeApi()
    seed(
        api,
        labels={"app": "web", **FLUX},
        annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"},
    )
    request = await request_for(api, gitops="suspend")
    assert list(request.gitops) == [
        {"kind": "Application", "apiVersion": "argoproj.io/v1alpha1", "namespace": "argocd", "name": "shop"},
        {
            "kind": "Kustomization",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "namespace": "flux-system",
            "name": "apps",
        },
    ]


async def test_suspend_is_refused_when_only_managed_fields_tell() -> None:
    api = FakeKubeApi()
    seed(api, managedFields=[{"manager": "kustomize-controller", "operation": "Apply"}])
    with pytest.raises(RunRefused) as caught:
        await request_for(api, gitops="suspend")
    assert caught.value.reason == "GitOpsCannotSuspend"
    assert "field manager kustomize-controller" in caught.value.message


async def test_ignore_acts_and_pauses_nothing() -> None:
    api = FakeKubeApi()
    seed(api, labels={"app": "web", **FLUX})
    request = await request_for(api, gitops="ignore")
    assert request.gitops == ()


async def test_an_unmanaged_target_needs_nothing() -> None:
    api = FakeKubeApi()
    seed(api)
    assert (await request_for(api, gitops="suspend")).gitops == ()


async def test_a_template_that_only_reads_changes_nothing_a_controller_would_revert() -> None:
    api = FakeKubeApi()
    seed(api, labels={"app": "web", **FLUX})
    steps = [{"name": "look", "action": {"name": "collect_diagnostics", "params": {}}}]
    request = await request_for(api, gitops=None, steps=steps, registry=load_registry())
    assert request.gitops == ()
