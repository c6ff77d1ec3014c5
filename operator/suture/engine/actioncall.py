"""Call one action of the registry for a step: resolve parameters, retry, journal the undo.

Every call has an idempotency key derived from the run and the call's path
(see :mod:`suture.engine.journal`). A call whose result the journal already
holds is not made again: its result (and undo) is replayed from the journal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from suture.actions import ActionResult, ActionSpec
from suture.api import ActionCall, RetryPolicy
from suture.engine.journal import JournalCallMemory, idempotency_key
from suture.engine.retry import with_retry
from suture.engine.scope import Scope
from suture.expr import resolve_value

# Parameters filled from the object acted on (the rollout item, else the run's target) when a step leaves them out.
TARGET_DEFAULTED = ("namespace", "name", "node")


def _field_names(spec: ActionSpec[Any]) -> set[str]:
    names: set[str] = set()
    for fname, info in spec.params.model_fields.items():
        names.add(fname)
        if info.alias:
            names.add(info.alias)
    return names


def _defaults_from(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    name = meta.get("name", obj.get("name"))
    namespace = meta.get("namespace", obj.get("namespace"))
    kind = obj.get("kind")
    node = name if kind == "Node" else (obj.get("spec") or {}).get("nodeName") if kind == "Pod" else None
    return {"namespace": namespace, "name": name, "node": node}


def fill_target_defaults(
    spec: ActionSpec[Any], params: dict[str, Any], source: Mapping[str, Any], *, namespace: str | None = None
) -> dict[str, Any]:
    """``params`` with namespace/name/node taken from ``source`` where the action has them and the step did not.

    ``namespace`` (a namespaced template's own) is the namespace when ``source`` has none.
    """
    fields = _field_names(spec)
    defaults = _defaults_from(source)
    if defaults["namespace"] is None:
        defaults["namespace"] = namespace
    filled = dict(params)
    for key in TARGET_DEFAULTED:
        if key in fields and key not in filled and defaults.get(key) is not None:
            filled[key] = defaults[key]
    return filled


async def call_action(
    call: ActionCall,
    scope: Scope,
    *,
    label: str,
    record: str,
    policy: RetryPolicy | None,
    timeout: float | None,
    on_attempt: Callable[[int], Awaitable[None]] | None = None,
    journal: list[dict[str, Any]] | None = None,
) -> tuple[ActionResult, int]:
    """Invoke ``call`` with retries; journal its undo data (under ``label``) when it changed something reversible.

    Parameters are resolved against ``scope.context`` at every attempt. The
    object defaults come from ``context['item']`` when it is a Kubernetes
    object (rollout), else from the run's target. Raises ``StepFailed``.
    """
    registry = scope.deps.registry
    spec = registry.get(call.name)
    effects = scope.deps.journal
    key = idempotency_key(scope.run_id, label)
    meta = {"label": label, "record": record, "action": call.name}
    memory = JournalCallMemory(effects, run_id=scope.run_id, key=key, meta=meta)
    ctx = dataclasses.replace(scope.action_context(), idempotency_key=key, memory=memory)
    item = scope.context.get("item")
    source = item if isinstance(item, Mapping) and "metadata" in item else (scope.context.get("target") or {})

    async def attempt() -> ActionResult:
        # Parameters are resolved once per call and recorded: a replay after a crash
        # must not recompute ``${{ item.spec.replicas + 1 }}`` from what it already changed.
        filled = await memory.get("params")
        if filled is None:
            params = resolve_value(call.params, scope.context)
            filled = fill_target_defaults(spec, params, source, namespace=scope.run.get("namespace"))
            await memory.put("params", filled)
        return await scope.deps.effects.invoke(registry, call.name, filled, ctx, label=label)

    recorded = await memory.get("done")
    if recorded is not None:
        # Applied on an earlier attempt of this step (the run crashed or was
        # interrupted before the step's checkpoint): do not apply it again.
        result, attempts = ActionResult(**recorded), 0
        scope.log.for_step(label).info("%s already applied before a restart; not applied again", call.name)
    else:
        result, attempts = await with_retry(
            attempt,
            policy=policy,
            timeout=timeout,
            sleep=scope.deps.sleep,
            on_attempt=on_attempt,
            log=scope.log.for_step(label),
        )
        await memory.put("done", dataclasses.asdict(result))
    if result.undo is not None and not result.dry_run and spec.reversible:
        entry = {**meta, "key": key, "undo": result.undo, "dryRun": False}
        (scope.journal if journal is None else journal).append(entry)
    return result, attempts
