"""An in-memory Kubernetes API server, plugged into :class:`~suture.kube.KubeClient` as its transport.

    api = FakeKubeApi()
    api.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}})
    kube = api.client()                      # a real KubeClient; only the wire is fake
    api.fail(method="PATCH", path_has="/status", status=500)        # the next status write answers 500
    api.fail(method="POST", error=ConnectionResetError("reset"))    # the next create never answers
    api.fail(method="PUT", status=503, after=True)   # the write persists, then the answer is lost
    api.writes(kind="Pod")                   # the audit log of writes (persisted or refused)

What it serves: get, list (label and field selectors), create (generateName,
uid, resourceVersion, creationTimestamp, 409 AlreadyExists), patch (merge;
strategic treated as merge, so lists are replaced; JSON patch with ``test``),
PUT with the ``metadata.resourceVersion`` precondition, delete (uid and
resourceVersion preconditions, finalizers), the ``status``, ``scale``, a Pod's ``ephemeralcontainers``,
``eviction`` (PodDisruptionBudgets with ``status.disruptionsAllowed`` < 1
answer 429) and ``log`` subresources, ``dryRun=All`` on every write, API
discovery and SelfSubjectReview. Refusals carry the API server's ``Status``
body. Not modelled: watches, garbage collection of dependants, admission,
server-side apply, defaulting, and per-kind field-selector support.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from suture.kube import KINDS, KubeClient, KubeRequest, KubeResponse, ResourceInfo
from tests.fakes.kubeops import (
    Refusal,
    conflict,
    field_match,
    invalid,
    json_patch,
    label_match,
    match_labels,
    merge_patch,
    not_found,
)

Before = Callable[[KubeRequest], "KubeResponse | Awaitable[KubeResponse | None] | None"]
After = Callable[[KubeRequest, KubeResponse], "KubeResponse | Awaitable[KubeResponse | None] | None"]
Validator = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
_WRITES = ("POST", "PUT", "PATCH", "DELETE")
_SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(frozen=True)
class Write:
    """One write request as the fake saw it, and how it answered."""

    method: str
    kind: str
    namespace: str | None
    name: str
    subresource: str | None
    dry_run: bool
    body: Any
    status: int

    @property
    def persisted(self) -> bool:
        """The write changed stored state (answered 2xx and was not a dry run)."""
        return self.status < 300 and not self.dry_run


@dataclass
class _Route:
    info: ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(repr=False)
class FakeKubeApi:
    """The API server's state and behaviour; implements the :class:`~suture.kube.Transport` protocol."""

    user: str = "test-user"
    """The username SelfSubjectReview answers."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The clock for creationTimestamp and deletionTimestamp."""
    served: list[ResourceInfo] = field(default_factory=lambda: list(KINDS.entries()))
    """Kinds this server serves (and lists in discovery)."""
    before: list[Before] = field(default_factory=list)
    """Called with each request before it is handled: return a response to answer instead, raise to drop it."""
    after: list[After] = field(default_factory=list)
    """Called with each request and its answer once handled: return a response to replace it, raise to lose it."""
    audit: list[Write] = field(default_factory=list)
    """Every write request that reached the server, in order."""
    requests: list[KubeRequest] = field(default_factory=list)
    """Every request, in order."""
    validators: dict[str, Validator] = field(default_factory=dict)
    """Per kind: causes (field, message) that make a create or update a 422, dry run or not."""
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    """Container logs by (namespace, pod name), or (namespace, "pod/container")."""
    _objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    _rv: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _last_rv: int = 0
    closed: bool = False

    # -- the test's side -----------------------------------------------------------

    def client(self) -> KubeClient:
        """A real KubeClient whose transport is this fake."""
        return KubeClient(self)

    def serve(self, info: ResourceInfo) -> None:
        """Serve one more kind (e.g. a custom resource the client only finds through discovery)."""
        self.served.append(info)

    def add(self, *objects: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Store objects as they are (plus uid, resourceVersion, creationTimestamp); returns the stored copies.

        No hooks run and nothing is audited: this is the world before the test.
        """
        stored = []
        for obj in objects:
            info = self._info(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            meta = obj.get("metadata") or {}
            stored.append(self._store(info, meta.get("namespace"), copy.deepcopy(dict(obj)), fresh=True))
        return stored

    def get(self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None) -> Any:
        """A copy of a stored object, or None."""
        info = self._kind(kind, api_version)
        obj = self._objects.get(self._key(info, namespace, name))
        return copy.deepcopy(obj)

    def objects(self, kind: str, *, api_version: str | None = None) -> list[dict[str, Any]]:
        """Copies of every stored object of ``kind``."""
        info = self._kind(kind, api_version)
        return [copy.deepcopy(o) for k, o in sorted(self._objects.items()) if k[:2] == (info.group, info.plural)]

    def writes(self, *, kind: str | None = None, persisted: bool | None = None) -> list[Write]:
        """The audit log, filtered by kind and by whether the write persisted."""
        return [
            w
            for w in self.audit
            if (kind is None or w.kind == kind) and (persisted is None or w.persisted == persisted)
        ]

    def fail(
        self,
        *,
        method: str | None = None,
        path_has: str = "",
        status: int = 500,
        error: BaseException | None = None,
        after: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` matching requests fail.

        With ``error`` the transport raises it (a connection reset, a
        timeout); otherwise it answers ``status`` with a Status body. With
        ``after`` the request is handled first (a write persists) and the
        answer is then replaced or lost: the moment between a write and its
        acknowledgement.
        """
        left = [times]

        def matches(request: KubeRequest) -> bool:
            return (method is None or request.method == method) and path_has in request.path and left[0] > 0

        def answer(request: KubeRequest) -> KubeResponse:
            left[0] -= 1
            if error is not None:
                raise error
            reason = "TooManyRequests" if status == 429 else "InternalError"
            return KubeResponse.json(status, Refusal(status, reason, f"injected {status}").body)

        if after:
            self.after.append(lambda request, _: answer(request) if matches(request) else None)
        else:
            self.before.append(lambda request: answer(request) if matches(request) else None)

    # -- the Transport protocol ------------------------------------------------------

    async def send(self, request: KubeRequest) -> KubeResponse:
        """Answer one request as the API server would (hooks first and last)."""
        self.requests.append(request)
        for hook in self.before:
            early = await _call(hook, request)
            if early is not None:
                return early
        response = self._answer(request)
        for hook_after in self.after:
            replaced = await _call(hook_after, request, response)
            if replaced is not None:
                response = replaced
        return response

    async def close(self) -> None:
        """Nothing to release; remembered so a test can check the client closed it."""
        self.closed = True

    # -- routing -------------------------------------------------------------------

    def _answer(self, request: KubeRequest) -> KubeResponse:
        route: _Route | None = None
        try:
            if request.method == "POST" and request.path.endswith("/selfsubjectreviews"):
                review = {**(request.body or {}), "status": {"userInfo": {"username": self.user}}}
                return KubeResponse.json(201, review)
            discovery = self._discovery(request.path) if request.method == "GET" else None
            if discovery is not None:
                return KubeResponse.json(200, discovery)
            route = self._route(request.path)
            return self._dispatch(request, route)
        except Refusal as refusal:
            self._audit(request, route, refusal.code)
            return KubeResponse.json(refusal.code, refusal.body)

    def _dispatch(self, request: KubeRequest, route: _Route) -> KubeResponse:
        method, sub = request.method, route.subresource
        if method == "GET" and route.name is None:
            return KubeResponse.json(200, self._list(request, route))
        if route.name is None and method != "POST":
            raise Refusal(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        if method == "GET" and sub == "log":
            return self._log(request, route)
        if method == "GET":
            obj = self._existing(route)
            return KubeResponse.json(200, self._scale(obj) if sub == "scale" else obj)
        if method not in _WRITES:
            raise Refusal(405, "MethodNotAllowed", f"{method} is not supported")
        dry_run = _dry_run(request)
        if method == "POST" and sub == "eviction":
            code, answer = 201, self._evict(route, dry_run=dry_run)
        elif method == "POST":
            code, answer = 201, self._create(route, request.body, dry_run=dry_run)
        elif method == "DELETE":
            code, answer = 200, self._delete(route, request.body or {}, dry_run=dry_run)
        else:
            code, answer = 200, self._update(request, route, dry_run=dry_run)
        self._audit(request, route, code)
        return KubeResponse.json(code, answer)

    def _route(self, path: str) -> _Route:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            api_version, rest = "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise Refusal(404, "NotFound", f"the server could not find the requested resource ({path})")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise Refusal(404, "NotFound", f"the server could not find the requested resource ({path})")
        info = next((i for i in self.served if i.api_version == api_version and i.plural == rest[0]), None)
        if info is None:
            raise Refusal(404, "NotFound", f"the server could not find the requested resource ({path})")
        name = rest[1] if len(rest) > 1 else None
        return _Route(info, namespace if info.namespaced else None, name, rest[2] if len(rest) > 2 else None)

    def _discovery(self, path: str) -> dict[str, Any] | None:
        parts = path.strip("/").split("/")
        if parts == ["api", "v1"]:
            api_version = "v1"
        elif len(parts) == 3 and parts[0] == "apis":
            api_version = f"{parts[1]}/{parts[2]}"
        else:
            return None
        resources = [
            {"name": i.plural, "kind": i.kind, "namespaced": i.namespaced}
            for i in self.served
            if i.api_version == api_version
        ]
        if not resources:
            raise Refusal(404, "NotFound", f"the server could not find the requested resource ({path})")
        return {"kind": "APIResourceList", "groupVersion": api_version, "resources": resources}

    # -- storage -------------------------------------------------------------------

    def _info(self, api_version: str, kind: str) -> ResourceInfo:
        found = next((i for i in self.served if i.api_version == api_version and i.kind == kind), None)
        if found is None:
            raise Refusal(404, "NotFound", f"no kind {kind!r} is served in {api_version!r}")
        return found

    def _kind(self, kind: str, api_version: str | None) -> ResourceInfo:
        found = [i for i in self.served if i.kind == kind and api_version in (None, i.api_version)]
        if not found:
            raise KeyError(f"the fake serves no kind {kind!r} (apiVersion {api_version!r})")
        return found[0]

    @staticmethod
    def _key(info: ResourceInfo, namespace: str | None, name: str) -> tuple[str, str, str, str]:
        return (info.group, info.plural, (namespace or "") if info.namespaced else "", name)

    def _existing(self, route: _Route) -> dict[str, Any]:
        assert route.name is not None
        obj = self._objects.get(self._key(route.info, route.namespace, route.name))
        if obj is None:
            raise not_found(route.info.plural, route.name)
        return copy.deepcopy(obj)

    def _store(
        self, info: ResourceInfo, namespace: str | None, obj: dict[str, Any], *, fresh: bool, dry_run: bool = False
    ) -> dict[str, Any]:
        """Stamp and (unless ``dry_run``) persist ``obj``; a dry run answers the object as if stored."""
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = info.api_version, info.kind
        if info.namespaced:
            meta["namespace"] = namespace
        if fresh:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
            if "spec" in obj:
                meta.setdefault("generation", 1)
        if not dry_run:
            self._last_rv = next(self._rv)
            meta["resourceVersion"] = str(self._last_rv)
            self._objects[self._key(info, namespace, meta["name"])] = copy.deepcopy(obj)
        return obj

    def _validate(self, info: ResourceInfo, obj: Mapping[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name", ""))
        causes = []
        if not name or not set(name) <= _NAME_CHARS or len(name) > 253:
            causes.append(("metadata.name", "a lowercase RFC 1123 subdomain must consist of lower case letters"))
        validator = self.validators.get(info.kind)
        causes += validator(obj) if validator else []
        if causes:
            raise invalid(info.kind, name, causes)

    # -- verbs ---------------------------------------------------------------------

    def _list(self, request: KubeRequest, route: _Route) -> dict[str, Any]:
        labels, fields = request.param("labelSelector"), request.param("fieldSelector")
        label_match(labels or "", {})  # a malformed selector is a 400 even when nothing is stored
        field_match(fields or "", {})
        items = []
        for key, obj in sorted(self._objects.items()):
            if key[:2] != (route.info.group, route.info.plural):
                continue
            if route.namespace is not None and key[2] != route.namespace:
                continue
            if labels and not label_match(labels, (obj["metadata"].get("labels") or {})):
                continue
            if fields and not field_match(fields, obj):
                continue
            items.append(copy.deepcopy(obj))
        return {
            "apiVersion": route.info.api_version,
            "kind": f"{route.info.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": items,
        }

    def _create(self, route: _Route, body: Any, *, dry_run: bool) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body or {}))
        meta = obj.setdefault("metadata", {})
        if route.info.namespaced and meta.get("namespace") not in (None, route.namespace):
            raise Refusal(400, "BadRequest", "the namespace of the object does not match the namespace on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{next(self._names):05d}"
        for stamp in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(stamp, None)
        self._validate(route.info, obj)
        if self._key(route.info, route.namespace, meta["name"]) in self._objects:
            raise Refusal(
                409,
                "AlreadyExists",
                f'{route.info.plural} "{meta["name"]}" already exists',
                details={"name": meta["name"], "kind": route.info.plural},
            )
        return self._store(route.info, route.namespace, obj, fresh=True, dry_run=dry_run)

    def _update(self, request: KubeRequest, route: _Route, *, dry_run: bool) -> dict[str, Any]:
        """PATCH or PUT of an object, its status or its scale."""
        current, sub = self._existing(route), route.subresource
        assert route.name is not None
        view = self._scale(current) if sub == "scale" else current
        if request.method == "PUT":
            changed = copy.deepcopy(request.body or {})
            wanted = (changed.get("metadata") or {}).get("resourceVersion")
            if (changed.get("metadata") or {}).get("name") != route.name:
                raise Refusal(400, "BadRequest", "the name of the object does not match the name on the URL")
        elif "json-patch" in request.content_type:
            changed = json_patch(view, request.body)
            wanted = None
        else:
            changed = merge_patch(view, request.body)
            wanted = ((request.body or {}).get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise conflict(route.info.plural, route.name, "the object has been modified; please apply your changes")
        if sub == "scale":
            result = copy.deepcopy(current)
            result.setdefault("spec", {})["replicas"] = (changed.get("spec") or {}).get("replicas")
        elif sub == "status":  # only status moves through the status subresource
            result = {**current, "status": changed.get("status", {})}
        elif sub == "ephemeralcontainers" and route.info.kind == "Pod":  # only that list moves, never shrinking
            added = (changed.get("spec") or {}).get("ephemeralContainers") or []
            kept = (current.get("spec") or {}).get("ephemeralContainers") or []
            if [c.get("name") for c in added[: len(kept)]] != [c.get("name") for c in kept]:
                raise invalid("Pod", route.name, [("spec.ephemeralContainers", "existing ones may not be changed")])
            result = copy.deepcopy(current)
            result["spec"]["ephemeralContainers"] = added
        elif sub is None:  # and status never moves through the main resource
            result = {k: v for k, v in changed.items() if k != "status"}
            if "status" in current:
                result["status"] = current["status"]
        else:
            raise Refusal(404, "NotFound", f"{route.info.plural} have no subresource {sub!r}")
        meta = result.setdefault("metadata", {})
        for stamp in ("uid", "creationTimestamp", "namespace", "name", "generation"):
            if stamp in current["metadata"]:
                meta[stamp] = current["metadata"][stamp]
        if result.get("spec") != current.get("spec") and "generation" in meta:
            meta["generation"] += 1
        self._validate(route.info, result)
        stored = self._store(route.info, route.namespace, result, fresh=False, dry_run=dry_run)
        return self._scale(stored) if sub == "scale" else stored

    def _delete(self, route: _Route, options: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
        current = self._existing(route)
        assert route.name is not None
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise conflict(route.info.plural, route.name, f"Precondition failed: UID in precondition: {pre['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise conflict(route.info.plural, route.name, "Precondition failed: resourceVersion")
        if dry_run:
            return current
        if current["metadata"].get("finalizers"):  # deletion waits for the finalizers' owners
            current["metadata"].setdefault("deletionTimestamp", self.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
            return self._store(route.info, route.namespace, current, fresh=False)
        del self._objects[self._key(route.info, route.namespace, route.name)]
        return current

    def _evict(self, route: _Route, *, dry_run: bool) -> dict[str, Any]:
        if route.info.kind != "Pod":
            raise Refusal(404, "NotFound", f"{route.info.plural} have no subresource 'eviction'")
        pod = self._existing(route)
        labels = pod["metadata"].get("labels") or {}
        for key, pdb in self._objects.items():
            if key[:3] != ("policy", "poddisruptionbudgets", route.namespace or ""):
                continue
            selected = match_labels((pdb.get("spec") or {}).get("selector") or {}, labels)
            if selected and int((pdb.get("status") or {}).get("disruptionsAllowed", 0)) < 1:
                message = "Cannot evict pod as it would violate the pod's disruption budget."
                cause = {"reason": "DisruptionBudget", "message": f"{pdb['metadata']['name']} allows no disruption"}
                raise Refusal(429, "TooManyRequests", message, details={"causes": [cause]})
        self._delete(route, {}, dry_run=dry_run)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _log(self, request: KubeRequest, route: _Route) -> KubeResponse:
        pod = self._existing(route)
        container = request.param("container")
        text = self.logs.get((str(route.namespace), f"{route.name}/{container}"))
        if text is None:
            text = self.logs.get((str(route.namespace), str(route.name)), "")
        spec = pod.get("spec") or {}
        names = [
            c["name"] for key in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(key) or []
        ]
        if container and names and container not in names:
            raise Refusal(400, "BadRequest", f"container {container} is not valid for pod {route.name}")
        tail = request.param("tailLines")
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-int(tail) :])
        return KubeResponse(200, {"Content-Type": "text/plain"}, text.encode())

    @staticmethod
    def _scale(obj: Mapping[str, Any]) -> dict[str, Any]:
        if obj["kind"] not in _SCALABLE:
            raise Refusal(404, "NotFound", f"{obj['kind']} has no scale subresource")
        meta = obj["metadata"]
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
        }

    def _audit(self, request: KubeRequest, route: _Route | None, status: int) -> None:
        if request.method not in _WRITES or route is None:
            return
        body = request.body if isinstance(request.body, list) else dict(request.body or {})
        name = route.name or str(((request.body or {}).get("metadata") or {}).get("name", ""))
        kind, sub = route.info.kind, route.subresource
        self.audit.append(Write(request.method, kind, route.namespace, name, sub, _dry_run(request), body, status))


def _dry_run(request: KubeRequest) -> bool:
    """dryRun=All in the query (writes) or in the DeleteOptions body (deletes)."""
    options = request.body if isinstance(request.body, dict) else {}
    return request.param("dryRun") == "All" or "All" in (options.get("dryRun") or [])


async def _call(hook: Callable[..., Any], *args: Any) -> KubeResponse | None:
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    assert result is None or isinstance(result, KubeResponse), f"a hook answered {result!r}"
    return result
