"""What an action is: a function plus the metadata that makes it safe to run.

An action's metadata is read by three audiences: the engine (parameter model,
dry-run, undo), ``suture validate`` (parameters, reversibility) and ``suture
rbac`` (the RBAC rules it needs, so the operator gets least privilege).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from suture.kube import KubeClient


class Risk(StrEnum):
    """How much harm a wrong call could do; templates and policies key on it."""

    READ_ONLY = "read-only"
    LOW = "low"
    HIGH = "high"
    DISRUPTIVE = "disruptive"


@dataclass(frozen=True)
class RbacRule:
    """One Kubernetes RBAC rule an action needs."""

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The rule as it appears in a Role."""
        return {"apiGroups": [self.api_group], "resources": list(self.resources), "verbs": list(self.verbs)}


T = TypeVar("T")


class CallMemory(Protocol):
    """Durable records of one action call, kept across replays of that call (see :class:`ActionContext`)."""

    async def get(self, name: str) -> Any:
        """The value recorded under ``name``, or None."""

    async def put(self, name: str, value: Any) -> None:
        """Record ``value`` (JSON) under ``name``; durable when this returns."""


class LocalMemory:
    """A :class:`CallMemory` that lives as long as the context: for calls outside a run (tests, the CLI)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def get(self, name: str) -> Any:
        """The value recorded under ``name``, or None."""
        return self._values.get(name)

    async def put(self, name: str, value: Any) -> None:
        """Record ``value`` under ``name``."""
        self._values[name] = value


@dataclass
class ActionContext:
    """What an action may use while it runs.

    Exactly-once contract: the engine may call an action again for the same
    step after a crash or a retry (same ``idempotency_key``). A writing action
    therefore (1) reads the state it changes through :meth:`recall`, so a
    replay sees the *original* pre-state and computes the same change, (2)
    records its undo with :meth:`intend` *before* writing, so the undo survives
    a crash right after the write, and (3) writes absolute values derived from
    that pre-state, so repeating the write changes nothing.
    """

    kube: KubeClient
    dry_run: bool = False
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("suture.actions"))
    remediation: str = ""  # namespace/name of the Remediation, for labels and messages
    # ownerReference of the Remediation, so objects an action creates (diagnostic
    # ConfigMaps, Jobs) are garbage-collected with it. None when run by hand.
    owner: dict[str, Any] | None = None
    # Namespaces the calling template may act in; None means any (cluster templates).
    allowed_namespace: str | None = None
    # The template's safety.allowedNamespaces / deniedNamespaces, applied to every call and undo.
    permitted_namespaces: frozenset[str] = frozenset()
    denied_namespaces: frozenset[str] = frozenset()
    poll_interval: float = 0.5
    # Deterministic per run, step and item; the same on every replay of this call.
    # Stamp it where a repeat must be recognised (annotations, notification headers).
    idempotency_key: str = ""
    memory: CallMemory = field(default_factory=LocalMemory)

    def namespace_refusal(self, namespace: str | None) -> str | None:
        """Why this call may not act in ``namespace`` (None: a cluster-scoped object), or None when it may.

        The one rule for every action, undo, rollout listing and resource check:
        a namespaced template stays in its namespace (and off cluster-scoped
        objects), and the template's allowed/denied namespaces hold everywhere.
        """
        if self.allowed_namespace is not None and namespace != self.allowed_namespace:
            what = f"namespace {namespace!r}" if namespace else "a cluster-scoped object"
            return f"{what} is outside this template's namespace {self.allowed_namespace!r}"
        if namespace is not None and namespace in self.denied_namespaces:
            return f"the template's safety rules deny namespace {namespace!r}"
        if namespace is not None and self.permitted_namespaces and namespace not in self.permitted_namespaces:
            return f"namespace {namespace!r} is not among the template's allowed namespaces"
        return None

    async def recall(self, name: str, read: Callable[[], Awaitable[T]]) -> T:
        """The value this call first read under ``name`` (on any earlier attempt), else ``read()`` recorded now.

        Under dry-run, or outside a run (no ``idempotency_key``), nothing is
        recorded: no change follows the read, or no replay can follow the call.
        """
        if not self.idempotency_key:
            return await read()  # not a call of a run (a test, the CLI): nothing to replay, nothing recorded
        key = f"pre/{name}"
        found = await self.memory.get(key)
        if found is not None:
            recorded: T = found
            return recorded
        value = await read()
        if not self.dry_run and value is not None:
            await self.memory.put(key, value)
        return value

    async def recorded(self, name: str) -> Any:
        """What :meth:`recall` recorded under ``name`` on an earlier attempt of this call, or None."""
        return await self.memory.get(f"pre/{name}")

    async def intend(self, undo: Mapping[str, Any]) -> None:
        """Record the undo of the write this call is about to make, durably, before making it.

        A no-op under dry-run. The undo must restore the recalled pre-state, so
        running it when the write never happened changes nothing.
        """
        if not self.dry_run and self.idempotency_key:
            await self.memory.put("intent", dict(undo))

    async def done_before(self, name: str) -> bool:
        """True when this call already marked ``name`` done on an earlier attempt (see :meth:`mark_done`)."""
        return bool(await self.memory.get(f"mark/{name}"))

    async def mark_done(self, name: str) -> None:
        """Remember that a non-repeatable effect (a notification sent) happened, so a replay skips it."""
        if not self.dry_run:
            await self.memory.put(f"mark/{name}", True)


@dataclass
class ActionResult:
    """What an action did.

    ``output`` is small, JSON-serialisable and readable by later steps as
    ``steps.<name>.output``. ``undo`` is the data the action's undo needs to
    restore the previous state exactly (None when nothing changed or the action
    cannot be undone); the engine stores it in the run's checkpoint.
    """

    changed: bool
    message: str
    output: dict[str, Any] = field(default_factory=dict)
    undo: dict[str, Any] | None = None
    dry_run: bool = False


P = TypeVar("P", bound=BaseModel)
RunFn = Callable[[ActionContext, P], Awaitable[ActionResult]]
UndoFn = Callable[[ActionContext, Mapping[str, Any]], Awaitable[ActionResult]]


@dataclass(frozen=True)
class ActionSpec(Generic[P]):
    """An action and its metadata."""

    name: str
    family: str
    description: str
    params: type[P]
    risk: Risk
    rbac: tuple[RbacRule, ...]
    run: RunFn[P]
    supports_dry_run: bool = True
    undo: UndoFn | None = None
    undo_description: str = ""
    pack: str = ""

    @property
    def reversible(self) -> bool:
        """True when the action can undo what it did."""
        return self.undo is not None

    def describe(self) -> dict[str, Any]:
        """The metadata as JSON, for ``suture actions`` and ``suture rbac``."""
        schema = self.params.model_json_schema(by_alias=True)
        required = set(schema.get("required", []))
        params = []
        for pname, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": pname,
                    "type": _type_of(prop),
                    "required": pname in required,
                    "default": prop.get("default"),
                    "description": prop.get("description", ""),
                    "bounds": {
                        k: prop[k] for k in ("minimum", "maximum", "minLength", "maxLength", "enum") if k in prop
                    },
                }
            )
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "risk": str(self.risk),
            "reversible": self.reversible,
            "undo": self.undo_description if self.reversible else "",
            "supportsDryRun": self.supports_dry_run,
            "rbac": [r.as_dict() for r in self.rbac],
            "params": params,
            "pack": self.pack,
        }


def _type_of(prop: Mapping[str, Any]) -> str:
    if "type" in prop:
        t = prop["type"]
        if t == "array" and "items" in prop:
            return f"list[{_type_of(prop['items'])}]"
        return str(t)
    if "anyOf" in prop:
        return " | ".join(_type_of(p) for p in prop["anyOf"] if p.get("type") != "null")
    if "enum" in prop:
        return "enum"
    return "any"


def action(
    *,
    name: str,
    family: str,
    params: type[P],
    risk: Risk,
    rbac: tuple[RbacRule, ...],
    supports_dry_run: bool = True,
    undo: UndoFn | None = None,
    undo_description: str = "",
) -> Callable[[RunFn[P]], ActionSpec[P]]:
    """Decorate an async ``run(ctx, params)`` function into an :class:`ActionSpec`.

    The function's docstring's first paragraph becomes the description.
    """

    def wrap(fn: RunFn[P]) -> ActionSpec[P]:
        doc = (fn.__doc__ or name).strip().split("\n\n")[0]
        return ActionSpec(
            name=name,
            family=family,
            description=" ".join(doc.split()),
            params=params,
            risk=risk,
            rbac=rbac,
            run=fn,
            supports_dry_run=supports_dry_run,
            undo=undo,
            undo_description=undo_description,
        )

    return wrap
