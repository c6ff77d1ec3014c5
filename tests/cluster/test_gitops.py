"""GitOps awareness on the real API server, with Argo CD's and Flux's own CRDs installed (no controllers).

The Deployment a run targets carries the marks Argo CD and Flux leave; the
operator (`suture run`, a subprocess) refuses, pauses and restores, or ignores,
as the template's ``safety.gitops`` says. The Application, Kustomization and
HelmRelease are created against the vendored CRDs (tests/fixtures/gitops-crds).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_operator_runs import _create, _phase_is, _remediation, _template
from tests.conftest import deployment, wait_for

CRDS = Path(__file__).resolve().parent.parent / "fixtures" / "gitops-crds"
KUSTOMIZATION = "kustomize.toolkit.fluxcd.io/v1"
HELMRELEASE = "helm.toolkit.fluxcd.io/v2"
APPLICATION = "argoproj.io/v1alpha1"
SCALE = {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 3}}}
ASK = {"name": "ask", "approval": {"message": "go on?", "timeout": "5m"}, "onFailure": "rollback"}


@pytest.fixture(scope="session")
async def gitops_crds(kube: KubeClient) -> None:
    """The vendored Argo CD and Flux CRDs, created once and Established."""
    names = []
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names.append(crd["metadata"]["name"])
        if await kube.get_or_none("CustomResourceDefinition", crd["metadata"]["name"]) is None:
            await kube.create("CustomResourceDefinition", crd)

    async def established() -> bool:
        for name in names:
            got = await kube.get("CustomResourceDefinition", name)
            if not any(
                c["type"] == "Established" and c["status"] == "True"
                for c in (got.get("status") or {}).get("conditions") or []
            ):
                return False
        return True

    await wait_for(established, timeout=90, what="the Argo CD and Flux CRDs to be established")


@pytest.fixture
async def operator_proc(
    kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str], gitops_crds: None
) -> AsyncIterator[OperatorProcess]:
    proc = OperatorProcess(kubeconfig, tmp_path, namespace)
    await proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


async def _gitops_objects(kube: KubeClient, namespace: str) -> None:
    """An Argo CD Application with automated sync, a Flux Kustomization and HelmRelease, all in ``namespace``."""
    app = {
        "apiVersion": APPLICATION,
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "source": {"repoURL": "https://git.example/shop.git", "path": "deploy", "targetRevision": "main"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    ks = {
        "apiVersion": KUSTOMIZATION,
        "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "5m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "shop"}},
    }
    hr = {
        "apiVersion": HELMRELEASE,
        "kind": "HelmRelease",
        "metadata": {"name": "web"},
        "spec": {
            "interval": "5m",
            "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
        },
    }
    for body in (app, ks, hr):
        await _create(kube, namespace, body)


async def _web(kube: KubeClient, namespace: str, *, labels: dict[str, str], annotations: dict[str, str]) -> None:
    body = deployment("web", 1)
    body["metadata"]["labels"] = {**body["metadata"]["labels"], **labels}
    body["metadata"]["annotations"] = annotations
    await kube.create("Deployment", body, namespace)


async def _spec(kube: KubeClient, namespace: str, kind: str, name: str, api_version: str) -> dict[str, Any]:
    got: dict[str, Any] = (await kube.get(kind, name, namespace, api_version=api_version))["spec"]
    return got


def _flux_kustomize(namespace: str) -> dict[str, str]:
    return {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": namespace}


async def test_a_flux_managed_target_is_refused_with_the_reason_and_left_alone(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _gitops_objects(kube, namespace)
    await _web(kube, namespace, labels=_flux_kustomize(namespace), annotations={})
    await _create(kube, namespace, _template("scale-up", [SCALE]))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    done = await wait_for(_phase_is(kube, namespace, "r1", "Failed", "Succeeded"), timeout=90, what="the refusal")
    status = done["status"]
    assert status["phase"] == "Failed", operator_proc.output()[-3000:]
    (refused,) = [c for c in status["conditions"] if c["type"] == "Refused"]
    assert refused["reason"] == "GitOpsManaged"
    assert f"Deployment {namespace}/web is managed by Flux" in refused["message"]
    assert "kustomize.toolkit.fluxcd.io/name=apps" in refused["message"]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 1
    assert "suspend" not in await _spec(kube, namespace, "Kustomization", "apps", KUSTOMIZATION)


async def test_suspend_pauses_argocd_and_flux_during_the_run_and_restores_them(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _gitops_objects(kube, namespace)
    tracking = {"argocd.argoproj.io/tracking-id": f"{namespace}_shop:apps/Deployment:{namespace}/web"}
    await _web(kube, namespace, labels=_flux_kustomize(namespace), annotations=tracking)
    await _create(kube, namespace, _template("scale-up", [SCALE, ASK], safety={"gitops": "suspend", "cooldown": "0s"}))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    await wait_for(_phase_is(kube, namespace, "r1", "WaitingApproval"), timeout=90, what="WaitingApproval")
    # Mid-run: both controllers are paused, and the change is made.
    assert (await _spec(kube, namespace, "Kustomization", "apps", KUSTOMIZATION))["suspend"] is True
    assert "automated" not in (await _spec(kube, namespace, "Application", "shop", APPLICATION))["syncPolicy"]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3

    from suture.approvals import answer_approval

    await answer_approval(kube, namespace=namespace, name="r1", decision="Approved", reason="go", step="ask")
    done = await wait_for(
        _phase_is(kube, namespace, "r1", "Succeeded", "Verifying", "Failed"), timeout=90, what="the run's end"
    )
    assert done["status"]["phase"] in ("Succeeded", "Verifying"), operator_proc.output()[-3000:]
    assert "suspend" not in await _spec(kube, namespace, "Kustomization", "apps", KUSTOMIZATION)
    app = await _spec(kube, namespace, "Application", "shop", APPLICATION)
    assert app["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "paused for the run and restored" in done["status"]["message"]


async def test_suspend_restores_the_helmrelease_after_a_rollback(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _gitops_objects(kube, namespace)
    helm = {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": namespace}
    await _web(kube, namespace, labels=helm, annotations={})
    await _create(kube, namespace, _template("scale-up", [SCALE, ASK], safety={"gitops": "suspend", "cooldown": "0s"}))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    await wait_for(_phase_is(kube, namespace, "r1", "WaitingApproval"), timeout=90, what="WaitingApproval")
    assert (await _spec(kube, namespace, "HelmRelease", "web", HELMRELEASE))["suspend"] is True

    from suture.approvals import answer_approval

    await answer_approval(kube, namespace=namespace, name="r1", decision="Rejected", reason="no", step="ask")
    done = await wait_for(_phase_is(kube, namespace, "r1", "RolledBack", "Failed"), timeout=90, what="the rollback")
    assert done["status"]["phase"] == "RolledBack", operator_proc.output()[-3000:]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 1
    assert "suspend" not in await _spec(kube, namespace, "HelmRelease", "web", HELMRELEASE)


async def test_ignore_acts_on_a_managed_target_and_touches_no_controller(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _gitops_objects(kube, namespace)
    before = await kube.get("Kustomization", "apps", namespace, api_version=KUSTOMIZATION)
    await _web(kube, namespace, labels=_flux_kustomize(namespace), annotations={})
    await _create(kube, namespace, _template("scale-up", [SCALE], safety={"gitops": "ignore"}))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    done = await wait_for(
        _phase_is(kube, namespace, "r1", "Succeeded", "Verifying", "Failed"), timeout=90, what="the run's end"
    )
    assert done["status"]["phase"] in ("Succeeded", "Verifying"), operator_proc.output()[-3000:]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3
    after = await kube.get("Kustomization", "apps", namespace, api_version=KUSTOMIZATION)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
