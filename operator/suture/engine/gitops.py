"""``gitops: suspend``: pause the Argo CD Application or Flux object that would revert the run, then restore it.

The run's request lists the controllers to pause (``run["gitops"]``, found by
:mod:`suture.gitops` when the run was accepted). Before the first step that
may act, each is paused: Flux ``spec.suspend: true`` on the Kustomization or
HelmRelease; Argo CD ``spec.syncPolicy.automated`` removed from the
Application (self-heal lives inside it, so both stop). When the run ends, in
any phase and after a rollback's undo, each is put back as it was.

Exactly once across crashes, with the run's effect journal (the same one
action calls use): ``gitops/<kind>/<ns>/<name>:pre`` holds the controller's
value before the run and is written durably *before* the pausing write, so a
replay never takes Suture's own pause for the user's setting; ``:restored``
marks the restore done, so a replayed ending does not restore twice. A
controller that was already paused before the run is restored to paused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suture.api import RetryPolicy
from suture.engine.retry import StepFailed, with_retry
from suture.engine.scope import RunDeps
from suture.logs import run_logger

PREFIX = "gitops/"
RETRY = RetryPolicy(limit=3, backoff="1s", factor=2.0, max_backoff="5s")
TIMEOUT = 30.0


def _key(ref: Mapping[str, Any]) -> str:
    return f"{PREFIX}{ref['kind']}/{ref['namespace']}/{ref['name']}"


def _display(ref: Mapping[str, Any]) -> str:
    return f"{ref['kind']} {ref['namespace']}/{ref['name']}"


def _current(kind: str, obj: Mapping[str, Any]) -> Any:
    """The value the pause replaces: Flux's ``spec.suspend``, Argo CD's ``spec.syncPolicy.automated``."""
    spec = obj.get("spec") or {}
    if kind == "Application":
        return (spec.get("syncPolicy") or {}).get("automated")
    return spec.get("suspend")


def _patch(kind: str, value: Any) -> dict[str, Any]:
    """A merge patch setting the paused field to ``value`` (None removes it)."""
    if kind == "Application":
        return {"spec": {"syncPolicy": {"automated": value}}}
    return {"spec": {"suspend": value}}


def _paused(kind: str) -> Any:
    return None if kind == "Application" else True


async def _write(deps: RunDeps, ref: Mapping[str, Any], value: Any) -> None:
    async def attempt() -> Any:
        return await deps.kube.patch(
            str(ref["kind"]),
            str(ref["name"]),
            _patch(str(ref["kind"]), value),
            str(ref["namespace"]),
            api_version=str(ref["apiVersion"]),
        )

    await with_retry(attempt, policy=RETRY, timeout=TIMEOUT, sleep=deps.sleep)


def wanted(run: Mapping[str, Any], deps: RunDeps) -> list[Mapping[str, Any]]:
    """The controllers this run pauses: none for a dry run, which changes nothing to be reverted."""
    if run.get("dryRun") or deps.global_dry_run or deps.effects.dry_run:
        return []
    return list(run.get("gitops") or [])


async def suspend(run: Mapping[str, Any], deps: RunDeps) -> str:
    """Pause every controller of the run not paused yet; "" when done, else why not (the run must stop).

    Idempotent: a controller whose pause is journaled is not touched again.
    """
    run_id = str(run["id"])
    for ref in wanted(run, deps):
        key = _key(ref)
        if await deps.journal.get(run_id=run_id, key=f"{key}:paused") is not None:
            continue
        try:
            if await deps.journal.get(run_id=run_id, key=f"{key}:pre") is None:
                live = await deps.kube.get_or_none(
                    str(ref["kind"]), str(ref["name"]), str(ref["namespace"]), api_version=str(ref["apiVersion"])
                )
                if live is None:
                    return f"gitops: suspend: {_display(ref)} not found, so it cannot be paused"
                before = {"ref": dict(ref), "value": _current(str(ref["kind"]), live)}
                await deps.journal.put(run_id=run_id, key=f"{key}:pre", value=before)
            await _write(deps, ref, _paused(str(ref["kind"])))
        except StepFailed as exc:
            return f"gitops: suspend: could not pause {_display(ref)}: {exc.message}"
        await deps.journal.put(run_id=run_id, key=f"{key}:paused", value={"ref": dict(ref)})
        run_logger(run).info("paused %s for the run (gitops: suspend)", _display(ref))
    return ""


async def restore(run: Mapping[str, Any], deps: RunDeps) -> str:
    """Put back every controller this run paused; words for the run's final message ("" when none).

    Whatever the ending (succeeded, failed, cancelled, rolled back). Idempotent
    through the journal; a restore that keeps failing is named in the message
    (the controller stays paused: a person must resume it).
    """
    run_id = str(run["id"])
    restored: list[str] = []
    failed: list[str] = []
    for name, before in await deps.journal.entries(run_id=run_id):
        if not (name.startswith(PREFIX) and name.endswith(":pre")):
            continue
        key = name.removesuffix(":pre")
        ref = before["ref"]
        if await deps.journal.get(run_id=run_id, key=f"{key}:restored") is None:
            try:
                await _write(deps, ref, before.get("value"))
            except StepFailed as exc:
                failed.append(f"{_display(ref)} ({exc.message})")
                run_logger(run).error("could not restore %s after the run: %s", _display(ref), exc.message)
                continue
            await deps.journal.put(run_id=run_id, key=f"{key}:restored", value={"ref": dict(ref)})
            run_logger(run).info("restored %s after the run (gitops: suspend)", _display(ref))
        restored.append(_display(ref))
    words = []
    if restored:
        words.append(f"gitops: {', '.join(restored)} paused for the run and restored")
    if failed:
        words.append(f"gitops: COULD NOT RESTORE {', '.join(failed)}: still paused, resume it by hand")
    return "; ".join(words)
