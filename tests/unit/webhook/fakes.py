"""An in-memory stand-in for the few KubeClient calls the receiver makes.

Just enough API server for the receiver: objects by kind/namespace/name,
AlreadyExists, label-selector equality, status merge patches with the
resourceVersion precondition, and a switch that makes it unreachable.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from suture.kube import ApiError


def _merge(into: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class FakeKube:
    """Objects in a dict; every call can be made to fail as an unreachable API server would."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.unreachable = False
        self.slow: float = 0.0
        self.creates = 0
        self._rv = itertools.count(1)

    async def _enter(self) -> None:
        if self.slow:
            await asyncio.sleep(self.slow)
        if self.unreachable:
            raise aiohttp.ClientConnectionError("connection refused")
        await asyncio.sleep(0)  # let concurrent requests interleave, as real I/O would

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as the API server would (uid, resourceVersion, generation)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._rv))
        meta.setdefault("creationTimestamp", f"2026-01-01T00:00:{len(self.objects) % 60:02d}Z")
        self.objects[(obj["kind"], meta.get("namespace"), meta["name"])] = obj
        return obj

    async def get(self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None) -> Any:
        await self._enter()
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", f"{kind} {name!r} not found")
        return copy.deepcopy(found)

    async def get_or_none(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> Any:
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
        await self._enter()
        wanted = dict(term.split("=", 1) for term in (label_selector or "").split(",") if term)
        return [
            copy.deepcopy(o)
            for (k, ns, _), o in self.objects.items()
            if k == kind
            and (namespace is None or ns == namespace)
            and all((o["metadata"].get("labels") or {}).get(key) == value for key, value in wanted.items())
        ]

    async def create(
        self, kind: str, body: Mapping[str, Any], namespace: str | None = None, **_: Any
    ) -> dict[str, Any]:
        await self._enter()
        body = copy.deepcopy(dict(body))
        body["metadata"]["namespace"] = namespace
        if (kind, namespace, body["metadata"]["name"]) in self.objects:
            raise ApiError(409, "AlreadyExists", f"{kind} {body['metadata']['name']!r} already exists")
        body.pop("status", None)  # the status subresource: a create never writes status
        self.creates += 1
        return self.add(body)

    async def patch(
        self,
        kind: str,
        name: str,
        body: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        **_: Any,
    ) -> Any:
        await self._enter()
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", f"{kind} {name!r} not found")
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if expected is not None and expected != found["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        if subresource == "status":
            _merge(found.setdefault("status", {}), body.get("status") or {})
        else:
            _merge(found, {k: v for k, v in body.items() if k != "metadata"})
        found["metadata"]["resourceVersion"] = str(next(self._rv))
        return copy.deepcopy(found)

    async def request(self, method: str, path: str, **_: Any) -> Any:
        await self._enter()
        return {"gitVersion": "v1.36.3-fake"}

    def remediations(self) -> list[dict[str, Any]]:
        """Every stored Remediation."""
        return [o for (k, _, _), o in self.objects.items() if k == "Remediation"]
