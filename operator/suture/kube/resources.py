"""Where each kind lives in the REST API.

A static table covers every kind Suture's actions and targets use, so no
discovery round-trip sits on the hot path; other kinds fall back to the
conventional lower-case plural.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceInfo:
    """The REST coordinates of one kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection_path(self, namespace: str | None) -> str:
        """URL path of the collection (all namespaces when namespace is None)."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None) -> str:
        """URL path of one object."""
        if self.namespaced and not namespace:
            raise ValueError(f"{self.kind} {name!r} is namespaced: a namespace is required")
        return f"{self.collection_path(namespace)}/{name}"


_KNOWN = [
    ResourceInfo("v1", "Pod", "pods", True),
    ResourceInfo("v1", "Node", "nodes", False),
    ResourceInfo("v1", "Namespace", "namespaces", False),
    ResourceInfo("v1", "Service", "services", True),
    ResourceInfo("v1", "Event", "events", True),
    ResourceInfo("v1", "ConfigMap", "configmaps", True),
    ResourceInfo("v1", "Secret", "secrets", True),
    ResourceInfo("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ResourceInfo("v1", "PersistentVolume", "persistentvolumes", False),
    ResourceInfo("v1", "ServiceAccount", "serviceaccounts", True),
    ResourceInfo("apps/v1", "Deployment", "deployments", True),
    ResourceInfo("apps/v1", "StatefulSet", "statefulsets", True),
    ResourceInfo("apps/v1", "DaemonSet", "daemonsets", True),
    ResourceInfo("apps/v1", "ReplicaSet", "replicasets", True),
    ResourceInfo("apps/v1", "ControllerRevision", "controllerrevisions", True),
    ResourceInfo("batch/v1", "Job", "jobs", True),
    ResourceInfo("batch/v1", "CronJob", "cronjobs", True),
    ResourceInfo("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True),
    ResourceInfo("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ResourceInfo("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    ResourceInfo("storage.k8s.io/v1", "StorageClass", "storageclasses", False),
    ResourceInfo("events.k8s.io/v1", "Event", "events", True),
    ResourceInfo("coordination.k8s.io/v1", "Lease", "leases", True),
    ResourceInfo("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", False),
    ResourceInfo(
        "admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings", False
    ),
    ResourceInfo("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    ResourceInfo("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    ResourceInfo("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    ResourceInfo("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceInfo("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    ResourceInfo("suture.dev/v1alpha1", "WorkflowTemplate", "workflowtemplates", True),
    ResourceInfo("suture.dev/v1alpha1", "ClusterWorkflowTemplate", "clusterworkflowtemplates", False),
    ResourceInfo("suture.dev/v1alpha1", "Remediation", "remediations", True),
]
_BY_KEY = {(r.api_version, r.kind): r for r in _KNOWN}
_BY_KIND = {r.kind: r for r in reversed(_KNOWN)}  # core v1 Event wins over events.k8s.io


def resource_info(kind: str, api_version: str | None = None) -> ResourceInfo:
    """Coordinates of ``kind`` (in ``api_version`` when given)."""
    if api_version is not None:
        found = _BY_KEY.get((api_version, kind))
        if found:
            return found
        return ResourceInfo(api_version, kind, kind.lower() + "s", True)
    found = _BY_KIND.get(kind)
    if found is None:
        raise ValueError(f"unknown kind {kind!r}: give its apiVersion as well")
    return found
