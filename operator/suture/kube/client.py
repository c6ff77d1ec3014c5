"""An async Kubernetes client that speaks plain JSON dicts.

Requests go through a :class:`~suture.kube.transport.Transport`: in production
:class:`~suture.kube.aiotransport.AioTransport` over ``kubernetes.aio`` (client
certificates, tokens, exec plugins, in-cluster service accounts), in tests an
in-memory API server. Actions read and write the same JSON a user sees in
``kubectl get -o json``.

Every answer is decoded in one place, :func:`raise_for_status`: a status of
400 or more becomes an :class:`ApiError` carrying the HTTP status and the
server's own message, of the class of that status in :mod:`suture.errors`
(404 ApiNotFound, 409 ApiConflict, 429 and 5xx ApiTransient, ...). Every
failure to get an answer (TransportError, OSError such as a connection reset,
TimeoutError) is caught in one place, :meth:`KubeClient.request`, and becomes
:class:`ApiUnavailable`, which is transient: a step with ``retry`` tries again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from suture.errors import ApiError, ApiUnavailable, UnknownKind
from suture.kube.resources import KINDS, ResourceInfo, ResourceTable, check_api_version, check_kind
from suture.kube.transport import KubeRequest, KubeResponse, Transport, TransportError

PatchType = Literal["merge", "strategic", "json"]
_PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
FIELD_MANAGER = "suture"


def raise_for_status(request: KubeRequest, response: KubeResponse) -> None:
    """Raise ApiError when ``response`` is a refusal (status >= 400); the one place answers become errors.

    The server's ``Status`` body supplies reason and message; a body that is
    not JSON is kept (truncated) as the message.
    """
    if response.status < 400:
        return
    try:
        status = json.loads(response.text)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        status = {"message": response.text[:500]}
    message = str(status.get("message", "")) or f"{request.method} {request.path}"
    raise ApiError(response.status, str(status.get("reason", "")), message, status)


def _query(query: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Query parameters as text; None values are left out, booleans are lower-case as the API expects."""
    pairs = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return tuple(pairs)


class KubeClient:
    """Plain-dict access to the Kubernetes API through one transport.

    ``resources`` is the table kinds resolve through (the process-wide
    :data:`~suture.kube.resources.KINDS` by default); kinds missing from it
    are looked up once through API discovery and remembered by this client.
    """

    def __init__(self, transport: Transport, *, resources: ResourceTable | None = None) -> None:
        self._transport = transport
        self._resources = resources or KINDS
        self._discovered = ResourceTable(())

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        return self._transport

    async def close(self) -> None:
        """Close the transport (its connection pool)."""
        await self._transport.close()

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

        ``path`` is used as given: callers build it from
        :class:`ResourceInfo` (which validates names) or from constants.
        ``headers`` adds request headers, e.g. ``Impersonate-User`` to act as
        another user where RBAC allows impersonation. Raises ApiError when the
        server refuses, ApiUnavailable when no answer came back.
        """
        request = KubeRequest(
            method=method,
            path=path,
            query=_query(query),
            headers={"Content-Type": content_type, "Accept": "application/json", **(headers or {})},
            body=body,
            timeout=timeout,
        )
        try:
            response = await self._transport.send(request)
        except (TransportError, OSError, TimeoutError) as exc:
            raise ApiUnavailable(f"{method} {path}: {exc or type(exc).__name__}") from exc
        raise_for_status(request, response)
        if raw:
            return response.text
        return json.loads(response.content) if response.content else {}

    # -- kinds -------------------------------------------------------------------

    def info(self, kind: str, api_version: str | None = None) -> ResourceInfo:
        """Coordinates of ``kind`` from the table or earlier discovery; UnknownKind or InvalidReference otherwise."""
        try:
            return self._resources.lookup(kind, api_version)
        except UnknownKind:
            if api_version is None:
                raise
            return self._discovered.lookup(kind, api_version)

    async def resolve(self, kind: str, api_version: str | None = None) -> ResourceInfo:
        """Coordinates of ``kind``, asking the API server's discovery once for kinds outside the table.

        Raises InvalidReference on malformed text, UnknownKind when the kind
        is unknown (without an apiVersion, or not served in it), ApiError when
        discovery itself fails.
        """
        try:
            return self.info(kind, api_version)
        except UnknownKind:
            if api_version is None:
                raise
        check_kind(kind)
        check_api_version(api_version)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = await self.request("GET", base)
        except ApiError as exc:
            if exc.not_found:
                raise UnknownKind(f"apiVersion {api_version!r} is not served by this cluster") from None
            raise
        for entry in listing.get("resources") or []:
            if entry.get("kind") == kind and "/" not in str(entry.get("name", "")):
                info = ResourceInfo(api_version, kind, str(entry["name"]), bool(entry.get("namespaced")))
                self._discovered.register(info)
                return info
        raise UnknownKind(f"kind {kind!r} is not served in apiVersion {api_version!r}")

    # -- typed helpers -------------------------------------------------------------

    async def get(self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None) -> Any:
        """GET one object; ApiError (404 when missing), UnknownKind/InvalidReference on bad coordinates."""
        info = await self.resolve(kind, api_version)
        return await self.request("GET", info.object_path(name, namespace))

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
        info = await self.resolve(kind, api_version)
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
        """POST an object (or a subresource such as a Pod's eviction); 409 when it already exists."""
        info = await self.resolve(kind, api_version)
        path = (
            info.object_path(subresource_of, namespace, subresource=subresource)
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
        info = await self.resolve(kind, api_version)
        return await self.request(
            "PATCH",
            info.object_path(name, namespace, subresource=subresource),
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
        """PUT an object; the body's resourceVersion makes it a compare-and-swap (409 on a stale one)."""
        info = await self.resolve(kind, api_version)
        return await self.request(
            "PUT",
            info.object_path(name, namespace, subresource=subresource),
            query=self._write_query(dry_run),
            body=dict(body),
        )

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
        """DELETE an object; with ``uid`` only that exact incarnation is deleted (409 otherwise)."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            body["dryRun"] = ["All"]
        info = await self.resolve(kind, api_version)
        return await self.request("DELETE", info.object_path(name, namespace), body=body)

    async def pod_logs(self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 100) -> str:
        """The last lines of a container's log."""
        path = self.info("Pod", "v1").object_path(name, namespace, subresource="log")
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
    from suture.kube.aiotransport import open_transport  # kubernetes.aio loads only where a real cluster is wanted

    return KubeClient(await open_transport(kubeconfig, context=context))
