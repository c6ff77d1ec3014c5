"""Reading Argo CD and Flux ownership from an object's own marks (pure: no API server)."""

from __future__ import annotations

from typing import Any

from suture.gitops import ARGOCD, FLUX_HELM, FLUX_KUSTOMIZE, GitOpsSettings, describe, detect, detect_all


def deployment(**meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", **meta},
    }


def test_an_unmarked_object_is_managed_by_nobody() -> None:
    assert detect(deployment(labels={"app": "web"})) == []


def test_an_argocd_tracking_id_naming_the_object_itself_names_its_application() -> None:
    (found,) = detect(deployment(annotations={"argocd.argoproj.io/tracking-id": "shop-app:apps/Deployment:shop/web"}))
    assert found.tool == ARGOCD
    assert found.object == "Deployment shop/web"
    assert found.controller is not None
    assert found.controller.ref() == {
        "kind": "Application",
        "apiVersion": "argoproj.io/v1alpha1",
        "namespace": "argocd",
        "name": "shop-app",
    }
    assert "argocd.argoproj.io/tracking-id=shop-app:apps/Deployment:shop/web" in found.evidence


def test_a_tracking_id_copied_from_another_object_does_not_count() -> None:
    # A pod template's annotations travel to every Pod: the id names the Deployment, not the Pod.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "annotations": {"argocd.argoproj.io/tracking-id": "shop-app:apps/Deployment:shop/web"},
        },
    }
    assert detect(pod) == []
    other_namespace = deployment(annotations={"argocd.argoproj.io/tracking-id": "app:apps/Deployment:prod/web"})
    assert detect(other_namespace) == []


def test_a_core_object_and_an_application_outside_argocds_namespace() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cfg",
            "namespace": "shop",
            "annotations": {"argocd.argoproj.io/tracking-id": "team_app:/ConfigMap:shop/cfg"},
        },
    }
    (found,) = detect(cm)
    assert found.controller is not None
    assert (found.controller.namespace, found.controller.name) == ("team", "app")


def test_a_malformed_tracking_id_is_no_evidence() -> None:
    assert detect(deployment(annotations={"argocd.argoproj.io/tracking-id": "nonsense"})) == []


def test_the_instance_label_counts_only_in_label_tracking_mode() -> None:
    labelled = deployment(labels={"app.kubernetes.io/instance": "shop-app"})
    assert detect(labelled) == []  # a common Helm label: no evidence of Argo CD by itself
    settings = GitOpsSettings(argocd_label_tracking=True, argocd_namespace="gitops")
    (found,) = detect(labelled, settings=settings)
    assert found.tool == ARGOCD
    assert found.controller is not None
    assert found.controller.display() == "Application gitops/shop-app"
    custom = GitOpsSettings(argocd_label_tracking=True, argocd_instance_label="argocd.example/app")
    assert detect(labelled, settings=custom) == []
    assert detect(deployment(labels={"argocd.example/app": "x"}), settings=custom)[0].controller is not None


def test_flux_kustomization_and_helmrelease_labels_name_their_objects() -> None:
    both = deployment(
        labels={
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
            "helm.toolkit.fluxcd.io/name": "web",
            "helm.toolkit.fluxcd.io/namespace": "shop",
        }
    )
    found = detect(both)
    assert [m.tool for m in found] == [FLUX_KUSTOMIZE, FLUX_HELM]
    assert [m.controller.display() for m in found if m.controller] == [
        "Kustomization flux-system/apps",
        "HelmRelease shop/web",
    ]
    assert [m.controller.api_version for m in found if m.controller] == [
        "kustomize.toolkit.fluxcd.io/v1",
        "helm.toolkit.fluxcd.io/v2",
    ]


def test_a_flux_label_without_its_namespace_is_no_evidence() -> None:
    assert detect(deployment(labels={"kustomize.toolkit.fluxcd.io/name": "apps"})) == []


def test_flux_reconcile_disabled_means_flux_keeps_its_hands_off() -> None:
    marks = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    fields = [{"manager": "kustomize-controller", "operation": "Apply"}]
    off = deployment(
        labels=marks, annotations={"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}, managedFields=fields
    )
    assert detect(off) == []


def test_field_managers_tell_the_tool_but_name_nothing_to_suspend() -> None:
    fields = [
        {"manager": "kube-controller-manager", "operation": "Update"},
        {"manager": "argocd-controller", "operation": "Apply"},
        {"manager": "helm-controller", "operation": "Update"},
        {"manager": "argocd-application-controller", "operation": "Update"},
    ]
    found = detect(deployment(managedFields=fields))
    assert [(m.tool, m.controller) for m in found] == [(ARGOCD, None), (FLUX_HELM, None)]
    assert "field manager argocd-controller" in found[0].evidence


def test_a_mark_that_names_the_controller_wins_over_the_same_tools_field_manager() -> None:
    obj = deployment(
        labels={"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
        managedFields=[{"manager": "kustomize-controller", "operation": "Apply"}],
    )
    (found,) = detect(obj)
    assert found.controller is not None


def test_a_chain_is_judged_object_by_object_and_described_in_plain_words() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}}
    owner = deployment(annotations={"argocd.argoproj.io/tracking-id": "shop-app:apps/Deployment:shop/web"})
    found = detect_all([pod, owner])
    assert describe(found) == (
        "Deployment shop/web is managed by Argo CD "
        "(annotation argocd.argoproj.io/tracking-id=shop-app:apps/Deployment:shop/web)"
    )
