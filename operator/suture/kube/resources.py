"""Where each kind lives in the REST API, and the checks that keep free text out of URL paths.

Kinds resolve through a fixed table (every kind Suture's actions and targets
use) plus kinds registered explicitly (:meth:`ResourceTable.register`) or, in
the client, found once through API discovery. Nothing is ever guessed by
lower-casing a kind: an unknown kind is an :class:`UnknownKind` error.

Every name, namespace, kind and apiVersion is checked before it becomes part
of a path; text that could add or climb path segments (``/``, ``..``, ``%``,
``?``) is an :class:`InvalidReference`. Both errors are ApiErrors (400 and
404, as the server would answer such a path) in :mod:`suture.errors`: an
InvalidReference is ``invalid``, an UnknownKind ``not-found``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from suture.errors import InvalidReference, UnknownKind

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_GROUP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_PLURAL = re.compile(r"^[a-z][a-z0-9]{0,62}$")
# Object names are DNS subdomains for most kinds, but RBAC objects allow ':' and '@'
# ("system:controller:x"). A leading alphanumeric rules out "." and "..".
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$")


def check_api_version(api_version: str) -> str:
    """``api_version`` when it is ``version`` or ``group/version``; InvalidReference otherwise."""
    group, _, version = api_version.rpartition("/")
    if not _DNS_LABEL.match(version) or (group and (len(group) > 253 or not _GROUP.match(group))):
        raise InvalidReference(f"apiVersion {api_version!r} is not 'version' or 'group/version'")
    return api_version


def check_kind(kind: str) -> str:
    """``kind`` when it is a CamelCase word; InvalidReference otherwise."""
    if not _KIND.match(kind):
        raise InvalidReference(f"kind {kind!r} is not a kind name (letters and digits, starting with a letter)")
    return kind


def check_name(name: str, *, what: str = "name") -> str:
    """``name`` when it is a safe object name (no '/', no '..', at most 253 characters); InvalidReference otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidReference(f"{what} {name!r} is not a valid object name")
    return name


def check_namespace(namespace: str) -> str:
    """``namespace`` when it is a DNS label; InvalidReference otherwise."""
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
        raise InvalidReference(f"namespace {namespace!r} is not a valid namespace name (a DNS label)")
    return namespace


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@dataclass(frozen=True)
class ResourceInfo:
    """The REST coordinates of one kind; constructing one validates every field (InvalidReference)."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def __post_init__(self) -> None:
        check_api_version(self.api_version)
        check_kind(self.kind)
        if not _PLURAL.match(self.plural):
            raise InvalidReference(f"resource name {self.plural!r} is not a lower-case plural")

    @property
    def group(self) -> str:
        """The API group ('' for the core group)."""
        return _group_of(self.api_version)

    def collection_path(self, namespace: str | None) -> str:
        """URL path of the collection (all namespaces when namespace is None); InvalidReference on a bad namespace."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{check_namespace(namespace)}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None, *, subresource: str | None = None) -> str:
        """URL path of one object (or its subresource).

        Raises InvalidReference when a namespaced kind has no namespace, or on
        a bad name, namespace or subresource.
        """
        if self.namespaced and not namespace:
            raise InvalidReference(f"{self.kind} {name!r} is namespaced: a namespace is required")
        path = f"{self.collection_path(namespace)}/{check_name(name)}"
        if subresource is not None:
            if not _PLURAL.match(subresource):
                raise InvalidReference(f"subresource {subresource!r} is not a subresource name")
            path = f"{path}/{subresource}"
        return path


_BUILTIN = (
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
)


class ResourceTable:
    """Kinds by (apiVersion, kind), and by kind alone for the first registered apiVersion."""

    def __init__(self, infos: tuple[ResourceInfo, ...] = _BUILTIN) -> None:
        self._by_key: dict[tuple[str, str], ResourceInfo] = {}
        self._by_kind: dict[str, ResourceInfo] = {}
        for info in infos:
            self.register(info)

    def register(self, info: ResourceInfo) -> None:
        """Make ``info`` resolvable; a kind keeps the apiVersion it was first registered with when none is given.

        Registering the same coordinates again is a no-op; different
        coordinates for a known (apiVersion, kind) raise ValueError.
        """
        key = (info.api_version, info.kind)
        known = self._by_key.get(key)
        if known is not None and known != info:
            raise ValueError(f"{info.kind} in {info.api_version} is already registered as {known}")
        self._by_key[key] = info
        self._by_kind.setdefault(info.kind, info)  # first wins: core v1 Event over events.k8s.io

    def lookup(self, kind: str, api_version: str | None = None) -> ResourceInfo:
        """Coordinates of ``kind`` (in ``api_version`` when given).

        Raises InvalidReference on malformed text and UnknownKind when the
        kind is not in this table.
        """
        check_kind(kind)
        if api_version is None:
            found = self._by_kind.get(kind)
            if found is None:
                raise UnknownKind(f"unknown kind {kind!r}: give its apiVersion, or register it")
            return found
        check_api_version(api_version)
        found = self._by_key.get((api_version, kind))
        if found is None:
            raise UnknownKind(f"unknown kind {kind!r} in apiVersion {api_version!r}: register it first")
        return found

    def entries(self) -> tuple[ResourceInfo, ...]:
        """Every registered kind, in registration order."""
        return tuple(self._by_key.values())


KINDS = ResourceTable()
"""The process-wide table: the built-in kinds plus whatever :func:`register_kind` added."""


def register_kind(*, api_version: str, kind: str, plural: str, namespaced: bool) -> ResourceInfo:
    """Add a kind to the process-wide table (e.g. a third-party pack's custom resource); returns its info.

    Raises InvalidReference on malformed fields and ValueError when the kind
    is already registered with different coordinates.
    """
    info = ResourceInfo(api_version, kind, plural, namespaced)
    KINDS.register(info)
    return info


def resource_info(kind: str, api_version: str | None = None) -> ResourceInfo:
    """Coordinates of ``kind`` from the process-wide table; raises UnknownKind or InvalidReference."""
    return KINDS.lookup(kind, api_version)
