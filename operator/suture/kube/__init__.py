"""Suture's seam to the Kubernetes API: plain dicts in, plain dicts out."""

from suture.kube.client import ApiError, KubeClient, connect
from suture.kube.resources import ResourceInfo, resource_info

__all__ = ["ApiError", "KubeClient", "ResourceInfo", "connect", "resource_info"]
