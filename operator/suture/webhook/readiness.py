"""/readyz: the receiver is ready when kopf is watching, the templates are indexed and the API server answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from suture.api import API_VERSION
from suture.kube import KubeClient
from suture.webhook.catalog import IndexCatalog

logger = logging.getLogger("suture.webhook")

PROBE_TTL = 1.0  # seconds a successful API probe is trusted, so a scrape storm does not become an API storm


async def wait_until_indexed(
    *, kube: KubeClient, catalog: IndexCatalog, namespaces: Sequence[str], interval: float = 0.2
) -> None:
    """Mark ``catalog`` synced once it holds every template the API server lists now.

    kopf fills its indexes from its own watches; this compares them with one
    listing, so "indexed" means "caught up with the cluster as it was when we
    started", the only moment an alert could otherwise meet an empty index.
    Retries (quietly) until the API server answers; returns when synced.
    """
    while True:
        try:
            uids: set[str] = set()
            scopes: list[str | None] = list(namespaces) or [None]
            for scope in scopes:
                items = await kube.list("WorkflowTemplate", scope, api_version=API_VERSION)
                uids |= {str(i["metadata"].get("uid")) for i in items}
            items = await kube.list("ClusterWorkflowTemplate", None, api_version=API_VERSION)
            uids |= {str(i["metadata"].get("uid")) for i in items}
            break
        except Exception as exc:  # the API server may not be up yet; readiness reports it
            logger.debug("listing templates for the index check failed: %s", exc)
            await asyncio.sleep(interval)
    # kopf offers no notification when an index changes, so this polls (a set comparison, cheap).
    while not uids <= {t.uid for t in catalog.templates()}:  # noqa: ASYNC110
        await asyncio.sleep(interval)
    catalog.mark_synced()
    logger.info("receiver ready: %d template(s) indexed", len(uids))


class ReceiverReadiness:
    """The /readyz check of a running operator."""

    def __init__(self, *, kube: KubeClient, catalog: IndexCatalog) -> None:
        self.kube = kube
        self.catalog = catalog
        self.stopping = False
        self._api_ok_at = float("-inf")

    async def __call__(self) -> list[str]:
        """What is missing, in plain words; empty when ready."""
        missing = []
        if self.stopping:
            missing.append("the operator is shutting down")
        if not self.catalog.synced:
            missing.append("templates are not indexed yet")
        if time.monotonic() - self._api_ok_at > PROBE_TTL:
            try:
                # Discovery of Suture's own group: the server answers and serves our CRDs (any user may ask).
                await asyncio.wait_for(self.kube.request("GET", f"/apis/{API_VERSION}"), 2.0)
                self._api_ok_at = time.monotonic()
            except Exception as exc:
                missing.append(f"the API server does not answer ({type(exc).__name__})")
        return missing
