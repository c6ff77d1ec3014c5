"""``gitops: suspend`` in the engine: paused before the first step, restored at every ending, exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from suture.engine import Engine, RunRequest
from suture.engine.journal import MemoryJournal
from suture.kube import KubeRequest, KubeResponse, ResourceInfo
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.engine.fakes import Ledger, rec, template

KUSTOMIZATION = {
    "kind": "Kustomization",
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "namespace": "flux-system",
    "name": "apps",
}
APPLICATION = {"kind": "Application", "apiVersion": "argoproj.io/v1alpha1", "namespace": "argocd", "name": "shop"}


@pytest.fixture
def gitops_api(api: FakeKubeApi, ledger: Ledger) -> FakeKubeApi:
    """The engine's API server, serving Flux and Argo CD kinds; each write to them lands in the ledger."""
    api.serve(ResourceInfo("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "kustomizations", True))
    api.serve(ResourceInfo("argoproj.io/v1alpha1", "Application", "applications", True))

    def note(request: KubeRequest, response: KubeResponse) -> None:
        if request.method == "PATCH" and ("kustomizations" in request.path or "applications" in request.path):
            ledger.events.append(f"patch:{request.body['spec']}")

    api.after.append(note)
    api.add(
        {
            "apiVersion": KUSTOMIZATION["apiVersion"],
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"interval": "5m", "prune": True},
        },
        {
            "apiVersion": APPLICATION["apiVersion"],
            "kind": "Application",
            "metadata": {"name": "shop", "namespace": "argocd"},
            "spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
        },
    )
    return api


def spec_of(api: FakeKubeApi, ref: dict[str, str]) -> dict[str, Any]:
    obj = api.get(ref["kind"], ref["name"], ref["namespace"], api_version=ref["apiVersion"])
    return dict(obj["spec"])


async def test_suspend_pauses_before_the_first_step_and_restores_after_success(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi, ledger: Ledger
) -> None:
    engine = make_engine()
    request = RunRequest(run_id="g1", template=template(rec("fix")), gitops=(KUSTOMIZATION, APPLICATION))
    outcome = await engine.start(request=request)
    assert outcome.phase == "Succeeded", outcome.message
    assert ledger.events == [
        "patch:{'suspend': True}",
        "patch:{'syncPolicy': {'automated': None}}",
        "do:fix",
        "patch:{'suspend': None}",
        "patch:{'syncPolicy': {'automated': {'prune': True, 'selfHeal': True}}}",
    ]
    assert spec_of(gitops_api, KUSTOMIZATION) == {"interval": "5m", "prune": True}
    assert spec_of(gitops_api, APPLICATION) == {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}
    assert "Kustomization flux-system/apps, Application argocd/shop paused for the run and restored" in outcome.message


async def test_a_rollback_undoes_the_steps_then_restores_the_controller(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi, ledger: Ledger
) -> None:
    engine = make_engine()
    broken = {
        "name": "boom",
        "action": {"name": "flaky", "params": {"name": "b", "failures": 9, "category": "invalid"}},
    }
    spec = template(rec("fix"), {**broken, "onFailure": "rollback"})
    outcome = await engine.start(request=RunRequest(run_id="g2", template=spec, gitops=(KUSTOMIZATION,)))
    assert outcome.phase == "RolledBack", outcome.message
    assert ledger.events == ["patch:{'suspend': True}", "do:fix", "undo:fix", "patch:{'suspend': None}"]
    assert "suspend" not in spec_of(gitops_api, KUSTOMIZATION)


async def test_a_replay_after_a_crash_restores_the_users_setting_not_suture_s_own_pause(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi
) -> None:
    journal = MemoryJournal()
    # The first process recorded the value before its pause, paused, and died before journaling the pause.
    await journal.put(
        run_id="g3", key="gitops/Kustomization/flux-system/apps:pre", value={"ref": KUSTOMIZATION, "value": False}
    )
    await gitops_api.client().patch(
        "Kustomization", "apps", {"spec": {"suspend": True}}, "flux-system", api_version=KUSTOMIZATION["apiVersion"]
    )
    engine = make_engine(journal=journal)
    outcome = await engine.start(
        request=RunRequest(run_id="g3", template=template(rec("fix")), gitops=(KUSTOMIZATION,))
    )
    assert outcome.phase == "Succeeded"
    assert spec_of(gitops_api, KUSTOMIZATION)["suspend"] is False


async def test_a_controller_already_paused_by_someone_stays_paused(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi
) -> None:
    kube = gitops_api.client()
    await kube.patch(
        "Kustomization", "apps", {"spec": {"suspend": True}}, "flux-system", api_version=KUSTOMIZATION["apiVersion"]
    )
    outcome = await make_engine().start(
        request=RunRequest(run_id="g4", template=template(rec("fix")), gitops=(KUSTOMIZATION,))
    )
    assert outcome.phase == "Succeeded"
    assert spec_of(gitops_api, KUSTOMIZATION)["suspend"] is True


async def test_a_dry_run_pauses_nothing(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi, ledger: Ledger
) -> None:
    request = RunRequest(run_id="g5", template=template(rec("fix")), gitops=(KUSTOMIZATION,), dry_run=True)
    outcome = await make_engine().start(request=request)
    assert outcome.phase == "Succeeded"
    assert not any(e.startswith("patch:") for e in ledger.events)


async def test_a_controller_that_cannot_be_paused_stops_the_run_before_any_step(
    make_engine: Callable[..., Engine], gitops_api: FakeKubeApi, ledger: Ledger
) -> None:
    missing = {**KUSTOMIZATION, "name": "gone"}
    outcome = await make_engine().start(
        request=RunRequest(run_id="g6", template=template(rec("fix")), gitops=(KUSTOMIZATION, missing))
    )
    assert outcome.phase == "Failed"
    assert "Kustomization flux-system/gone not found" in outcome.message
    assert "do:fix" not in ledger.events
    # What was paused before the failure is put back.
    assert ledger.events == ["patch:{'suspend': True}", "patch:{'suspend': None}"]
