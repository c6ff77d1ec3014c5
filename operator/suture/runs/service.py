"""What the kopf handlers call: start, resume, approve and cancel Remediation runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from suture import metrics
from suture.actions import Registry
from suture.api import API_VERSION, TERMINAL_PHASES
from suture.engine import ApprovalNotPending, Engine, RunOutcome
from suture.engine.state import now_iso
from suture.kube import KubeClient
from suture.runs.events import post_event
from suture.runs.request import RunRefused, build_run_request, load_template
from suture.runs.sink import KubeStatusSink

logger = logging.getLogger("suture.runs")


def _ids(body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))


def _decision(body: Mapping[str, Any]) -> dict[str, Any] | None:
    approval = (body.get("spec") or {}).get("approval") or {}
    return approval if approval.get("decision") in ("Approved", "Rejected") else None


class RemediationService:
    """Owns the engine's runs on behalf of Remediation objects."""

    def __init__(self, *, engine: Engine, kube: KubeClient, sink: KubeStatusSink, registry: Registry) -> None:
        self.engine = engine
        self.kube = kube
        self.sink = sink
        self.registry = registry
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, body: Mapping[str, Any]) -> None:
        """Start a new run, or resume one after a restart; a finished run is left alone."""
        namespace, name, uid = _ids(body)
        status = body.get("status") or {}
        if status.get("phase") in TERMINAL_PHASES or uid in self.tasks:
            return
        template_name = str(((body.get("spec") or {}).get("templateRef") or {}).get("name", ""))
        self.sink.track(run_id=uid, namespace=namespace, name=name, template=template_name, status=status)
        if status.get("startTime") and await self.engine.snapshot(run_id=uid) is not None:
            # Resumed after a restart: the checkpoint has everything, nothing is re-resolved.
            self.tasks[uid] = asyncio.create_task(self._drive(uid, body, None))
            if (body.get("spec") or {}).get("cancel"):
                # Cancel requests live in the engine's memory: a restart forgets them, the spec does not.
                await self.cancel(body)
            return
        try:
            request, _ = await build_run_request(body, kube=self.kube, registry=self.registry)
        except RunRefused as refused:
            await self._refuse(body, refused)
            return
        if request.target:
            await self._record_target(namespace, name, request.target)
        self.tasks[uid] = asyncio.create_task(self._drive(uid, body, request))

    async def _drive(self, uid: str, body: Mapping[str, Any], request: Any) -> None:
        try:
            outcome: RunOutcome
            if request is None:
                outcome = await self.engine.resume(run_id=uid)
            else:
                outcome = await self.engine.start(request=request)
            answer = _decision(body)
            if outcome.approval is not None and answer is not None:
                await self._answer(uid, answer)
        except Exception:
            logger.exception("run %s failed unexpectedly", uid)
            raise
        finally:
            self.tasks.pop(uid, None)

    async def _record_target(self, namespace: str, name: str, target: Mapping[str, Any]) -> None:
        meta = target.get("metadata") or {}
        ref = {
            "apiVersion": target.get("apiVersion", ""),
            "kind": target.get("kind", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid"),
        }
        if meta.get("namespace"):
            ref["namespace"] = meta["namespace"]
        await self.kube.patch(
            "Remediation", name, {"status": {"target": ref}}, namespace, subresource="status", api_version=API_VERSION
        )

    async def _refuse(self, body: Mapping[str, Any], refused: RunRefused) -> None:
        namespace, name, uid = _ids(body)
        metrics.RUNS_REFUSED.labels(refused.reason).inc()
        status = {
            "phase": "Failed",
            "message": f"{refused.reason}: {refused.message}",
            "completionTime": now_iso(),
            "conditions": [
                {
                    "type": "Refused",
                    "status": "True",
                    "reason": refused.reason,
                    "message": refused.message,
                    "lastTransitionTime": now_iso(),
                }
            ],
        }
        await self.kube.patch(
            "Remediation", name, {"status": status}, namespace, subresource="status", api_version=API_VERSION
        )
        await post_event(
            self.kube,
            namespace=namespace,
            name=name,
            uid=uid,
            reason=refused.reason,
            message=refused.message,
            warning=True,
        )

    async def _answer(self, uid: str, answer: Mapping[str, Any]) -> None:
        try:
            await self.engine.approve(
                run_id=uid,
                decision=str(answer["decision"]),
                by=str(answer.get("by", "")),
                reason=str(answer.get("reason", "")),
            )
        except ApprovalNotPending:
            logger.info("run %s is not waiting for approval; answer ignored", uid)

    async def approval_changed(self, body: Mapping[str, Any]) -> None:
        """Pass an approval answer written to the spec on to a waiting run."""
        _, _, uid = _ids(body)
        answer = _decision(body)
        if answer is None:
            return
        if uid in self.tasks:  # still running towards the approval: _drive answers when it pauses
            await self.tasks[uid]
            return
        await self._answer(uid, answer)

    async def cancel(self, body: Mapping[str, Any]) -> None:
        """Stop a run at its next step boundary, rolling back when the template asks for it."""
        namespace, _, uid = _ids(body)
        if await self.engine.snapshot(run_id=uid) is None:
            return
        rollback = False
        try:
            from suture.api import Remediation

            template = await load_template(self.kube, Remediation.model_validate(dict(body)), namespace)
            rollback = template.spec.safety.rollback_on_cancel
        except (RunRefused, ValueError):
            pass  # template gone or broken: stop without undoing
        await self.engine.cancel(run_id=uid, rollback=rollback)
        task = self.tasks.get(uid)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
