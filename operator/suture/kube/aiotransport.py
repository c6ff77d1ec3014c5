"""The production transport: ``kubernetes.aio`` for configuration, authentication and the wire.

``kubernetes.aio`` loads kubeconfigs (client certificates, tokens, exec
plugins) and in-cluster service accounts, refreshes credentials and pools
connections; Suture uses it for exactly that and nothing of its typed API.
"""

from __future__ import annotations

import aiohttp
from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from suture.kube.transport import KubeRequest, KubeResponse, TransportError

USER_AGENT = "suture/0.1"


class AioTransport:
    """Sends requests through a ``kubernetes.aio`` ApiClient (its auth, TLS and connection pool)."""

    def __init__(self, api_client: aio_client.ApiClient) -> None:
        self._api = api_client

    async def send(self, request: KubeRequest) -> KubeResponse:
        """Send ``request``; any answer is returned, TransportError when none came back."""
        try:
            method, url, headers, body, post = await self._api.param_serialize(
                method=request.method,
                resource_path=request.path,
                query_params=list(request.query),
                header_params=dict(request.headers),
                # The REST layer JSON-encodes the value itself for every JSON content type.
                body=request.body,
                auth_settings=["BearerToken"],
            )
            response = await self._api.call_api(method, url, headers, body, post, _request_timeout=request.timeout)
            data = await response.read()
        except aiohttp.ClientError as exc:
            # ClientOSError is also an OSError; either way the client needs one shape for "no answer".
            raise TransportError(f"{request.method} {request.path}: {type(exc).__name__}: {exc}") from exc
        content = data if isinstance(data, bytes) else str(data or "").encode()
        return KubeResponse(int(response.status), dict(response.headers), content)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._api.close()


async def open_transport(kubeconfig: str | None = None, *, context: str | None = None) -> AioTransport:
    """A transport for the cluster ``kubeconfig`` names, or the in-cluster account when None.

    Without a kubeconfig and outside a cluster, the default kubeconfig
    (``~/.kube/config``) is tried; its loading errors propagate
    (``kubernetes`` ConfigException).
    """
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
    api.user_agent = USER_AGENT
    return AioTransport(api)
