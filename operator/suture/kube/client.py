"""An async Kubernetes client that speaks plain JSON dicts.

It rides on ``kubernetes.aio`` for configuration and authentication (client
certificates, tokens, exec plugins, in-cluster service accounts) and sends raw
REST requests, so actions read and write the same JSON a user sees in
``kubectl get -o json``. Errors become :class:`ApiError` carrying the HTTP
status and the server's own message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from suture.kube.resources import ResourceInfo, resource_info

PatchType = Literal["merge", "strategic", "json"]
_PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
FIELD_MANAGER = "suture"


class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str, message: str, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = dict(body or {})

    @property
    def not_found(self) -> bool:
        """The object (or its collection) does not exist."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """Optimistic-concurrency conflict or already-exists."""
        return self.status == 409


class KubeClient:
    """Plain-dict access to the Kubernetes API over one shared connection pool."""

    def __init__(self, api_client: aio_client.ApiClient) -> None:
        self._api = api_client

    async def close(self) -> None:
        """Close the connection pool."""
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
        raw: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (or text when ``raw``).

        ``headers`` adds request headers, e.g. ``Impersonate-User`` to act as
        another user where RBAC allows impersonation.
        """
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        headers = {"Content-Type": content_type, "Accept": "application/json", **(headers or {})}
        method_, url, headers_, body_, post = await self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = await self._api.call_api(method_, url, headers_, body_, post, _request_timeout=timeout)
        data = await response.read()
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        if response.status >= 400:
            try:
                status = json.loads(text)
            except ValueError:
                status = {"message": text[:500]}
            raise ApiError(response.status, str(status.get("reason", "")), str(status.get("message", "")), status)
        if raw:
            return text
        return json.loads(text) if text else {}

    # -- typed helpers -------------------------------------------------------------

    @staticmethod
    def _info(kind: str, api_version: str | None) -> ResourceInfo:
        return resource_info(kind, api_version)

    async def get(self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None) -> Any:
        """GET one object."""
        return await self.request("GET", self._info(kind, api_version).object_path(name, namespace))

    async def get_or_none(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> Any:
        """GET one object, or None when it does not exist."""
        try:
            return await self.get(kind, name, namespace, api_version=api_version)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    async def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        api_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """LIST objects (all namespaces when ``namespace`` is None)."""
        info = self._info(kind, api_version)
        result = await self.request(
            "GET",
            info.collection_path(namespace),
            query={"labelSelector": label_selector or None, "fieldSelector": field_selector or None},
        )
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    async def create(
        self,
        kind: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        api_version: str | None = None,
        dry_run: bool = False,
        subresource_of: str | None = None,
        subresource: str | None = None,
    ) -> Any:
        """POST an object (or a subresource such as a Pod's eviction)."""
        info = self._info(kind, api_version)
        path = (
            f"{info.object_path(subresource_of, namespace)}/{subresource}"
            if subresource_of and subresource
            else info.collection_path(namespace)
        )
        return await self.request("POST", path, query=self._write_query(dry_run), body=dict(body))

    async def patch(
        self,
        kind: str,
        name: str,
        body: Any,
        namespace: str | None = None,
        *,
        api_version: str | None = None,
        patch_type: PatchType = "merge",
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Any:
        """PATCH an object (merge patch unless told otherwise)."""
        path = self._info(kind, api_version).object_path(name, namespace)
        if subresource:
            path = f"{path}/{subresource}"
        return await self.request(
            "PATCH",
            path,
            query=self._write_query(dry_run),
            body=body,
            content_type=_PATCH_CONTENT_TYPES[patch_type],
        )

    async def replace(
        self,
        kind: str,
        name: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        api_version: str | None = None,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Any:
        """PUT an object; the body's resourceVersion makes it a compare-and-swap."""
        path = self._info(kind, api_version).object_path(name, namespace)
        if subresource:
            path = f"{path}/{subresource}"
        return await self.request("PUT", path, query=self._write_query(dry_run), body=dict(body))

    async def delete(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        api_version: str | None = None,
        dry_run: bool = False,
        uid: str | None = None,
        propagation: str | None = "Background",
        grace_period_seconds: int | None = None,
    ) -> Any:
        """DELETE an object; with ``uid`` only that exact incarnation is deleted."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            body["dryRun"] = ["All"]
        path = self._info(kind, api_version).object_path(name, namespace)
        return await self.request("DELETE", path, body=body)

    async def pod_logs(self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 100) -> str:
        """The last lines of a container's log."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        text: str = await self.request(
            "GET", path, query={"container": container, "tailLines": tail_lines}, raw=True, timeout=15.0
        )
        return text

    @staticmethod
    def _write_query(dry_run: bool) -> dict[str, Any]:
        query: dict[str, Any] = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        return query


async def connect(kubeconfig: str | None = None, *, context: str | None = None) -> KubeClient:
    """A client for the cluster ``kubeconfig`` names, or the in-cluster account when None."""
    configuration = aio_client.Configuration()
    if kubeconfig:
        await aio_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
        )
    else:
        try:
            aio_config.load_incluster_config(client_configuration=configuration)
        except aio_config.ConfigException:
            await aio_config.load_kube_config(context=context, client_configuration=configuration)
    api = aio_client.ApiClient(configuration=configuration)
    api.user_agent = "suture/0.1"
    return KubeClient(api)
