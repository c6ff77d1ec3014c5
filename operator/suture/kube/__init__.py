"""Suture's seam to the Kubernetes API: plain dicts in, plain dicts out, through a swappable transport."""

from suture.errors import ApiError, ApiUnavailable, InvalidReference, UnknownKind
from suture.kube.client import KubeClient, connect, raise_for_status
from suture.kube.conditions import merge_condition, write_condition
from suture.kube.resources import (
    KINDS,
    ResourceInfo,
    ResourceTable,
    register_kind,
    resource_info,
)
from suture.kube.transport import KubeRequest, KubeResponse, Transport, TransportError

__all__ = [
    "KINDS",
    "ApiError",
    "ApiUnavailable",
    "InvalidReference",
    "KubeClient",
    "KubeRequest",
    "KubeResponse",
    "ResourceInfo",
    "ResourceTable",
    "Transport",
    "TransportError",
    "UnknownKind",
    "connect",
    "merge_condition",
    "raise_for_status",
    "register_kind",
    "resource_info",
    "write_condition",
]
