"""What the kopf handlers call: start, resume, approve and cancel Remediation runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.actions import Registry
from suture.api import API_VERSION, TERMINAL_PHASES, Remediation, Verify, parse_duration
from suture.engine import ApprovalNotPending, Engine, RunOutcome, now_iso
from suture.gitops import GitOpsSettings
from suture.kube import KubeClient
from suture.logs import mark_stage
from suture.runs.events import post_event
from suture.runs.history_row import run_record
from suture.runs.learning import INEFFECTIVE_PHASES, Learner, alert_of, template_version_of
from suture.runs.request import RunRefused, build_run_request, load_template
from suture.runs.sink import VERIFYING, KubeStatusSink
from suture.store import History

logger = logging.getLogger("suture.runs")
REVIVE_DELAYS = (1.0, 5.0, 30.0)  # seconds before resuming a run whose task died, attempt by attempt
PAUSED = "Paused"
FAILED = "Failed"
Work = Callable[[], Awaitable[RunOutcome | None]]


def _ids(body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))


LIST_EVERY = 30
"""Adoption rounds between two full listings of the Remediations (the others read the watch's view)."""


def _may_need_driver(body: Mapping[str, Any]) -> bool:
    """Whether a Remediation's run may still need a process to drive it (not settled, not being deleted)."""
    phase = (body.get("status") or {}).get("phase")
    deleting = (body.get("metadata") or {}).get("deletionTimestamp")
    return phase not in (*TERMINAL_PHASES, VERIFYING) and not deleting


def _decision(body: Mapping[str, Any]) -> dict[str, Any] | None:
    approval = (body.get("spec") or {}).get("approval") or {}
    return approval if approval.get("decision") in ("Approved", "Rejected") else None


def _paused(body: Mapping[str, Any]) -> bool:
    return bool((body.get("spec") or {}).get("paused"))


def _retries(body: Mapping[str, Any]) -> tuple[int, int]:
    """(retries asked for in the spec, retries recorded in the status)."""
    asked = int((body.get("spec") or {}).get("retry") or 0)
    return asked, len((body.get("status") or {}).get("retries") or [])


def _answers(answer: Mapping[str, Any], approval_id: str) -> bool:
    """True when a stored answer is for this approval (an answer naming none is refused: it could be stale)."""
    named = str(answer.get("step") or "")
    if not named:
        logger.warning("an approval answer names no approval (spec.approval.step); it answers nothing")
    return named == approval_id


class RemediationService:
    """Owns the engine's runs on behalf of Remediation objects."""

    def __init__(
        self,
        *,
        engine: Engine,
        kube: KubeClient,
        sink: KubeStatusSink,
        registry: Registry,
        home_namespace: str | None = None,
        learner: Learner | None = None,
        verify: bool = False,
        gitops: GitOpsSettings | None = None,
        history: History,
    ) -> None:
        """``verify``: a succeeded run enters ``Verifying`` (off for a globally dry-run operator, whose
        runs change nothing); ``learner`` hears the Ineffective outcome of failed and rolled-back runs."""
        self.engine = engine
        self.kube = kube
        self.sink = sink
        self.registry = registry
        self.home_namespace = home_namespace  # the operator's own namespace (see build_run_request)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._acceptance: dict[str, asyncio.Lock] = {}
        self._starting: dict[str, asyncio.Lock] = {}  # one start at a time per run: see start()
        self._draining = False
        self._known: set[str] = set()  # runs this process has started or resumed: adopt() leaves them be
        # uid -> (namespace, name) of every Remediation the watch shows whose run may still need a driver
        # (see observe); None until the first watch event: adopt() then has only the API's listing.
        self._unsettled: dict[str, tuple[str, str]] | None = None
        self._accepted: set[str] = set()  # runs this process accepted and still drives (see _start)
        self._revivals: dict[str, int] = {}  # how often a run's task died in a row
        self._recheck: set[str] = set()  # runs whose spec asked for something while their task was busy
        self._controls: dict[str, asyncio.Lock] = {}  # see _control
        self._background: set[asyncio.Task[None]] = set()
        self.learner = learner
        self.verify = verify
        self.gitops = gitops  # how Argo CD tracks objects, for the GitOps safety rule
        self.history = history  # started runs: what cooldowns and hourly budgets count

    async def start(self, body: Mapping[str, Any]) -> None:
        """Start a new run, or resume one after a restart; a finished run is left alone.

        Calls for one run are serialised: kopf's handler and :meth:`adopt` may both start the same run
        on a new leader, and the second must see the first's task rather than apply a step again.
        """
        async with self._starting.setdefault(_ids(body)[2], asyncio.Lock()):
            await self._start(body)

    def hand_off(self, body: Mapping[str, Any]) -> None:
        """Start the run of a Remediation this process has just created, without waiting for its watch event.

        The receiver calls this on the leader right after the API server stored
        the Remediation (``body`` is the server's answer, with its UID), so the
        run starts one kopf round trip (the watch event, kopf's finalizer)
        sooner. Nothing else changes: kopf's create handler still calls
        :meth:`start` for the same Remediation and finds the run started
        (starts are serialised per run), and :meth:`adopt` remains the net for
        any run neither reaches. A start that fails here is only logged, for
        those two to retry. Returns at once; the start goes on in a task.
        """
        if self._draining:
            return
        namespace, name, _ = _ids(body)

        async def start() -> None:
            try:
                await self.start(body)
            except Exception:
                logger.warning("[%s/%s] the run did not start on hand-off; its watch event starts it", namespace, name)

        self._background.add(task := asyncio.create_task(start(), name=f"suture-hand-off-{name}"))
        task.add_done_callback(self._background.discard)

    def observe(self, event: str | None, body: Mapping[str, Any]) -> None:
        """Follow one watch event of a Remediation (kopf calls this for every event, its first listing too):
        remember the runs that may still need a driver, so :meth:`adopt` need not list every Remediation."""
        namespace, name, uid = _ids(body)
        if self._unsettled is None:
            self._unsettled = {}
        if event == "DELETED" or not _may_need_driver(body):
            self._unsettled.pop(uid, None)
        else:
            self._unsettled[uid] = (namespace, name)

    async def adopt(self, namespaces: Sequence[str], *, listing: bool = True) -> int:
        """Start or resume every unfinished run this replica does not drive yet; returns how many.

        Only the replica that executes runs calls this, when it takes the Lease (or starts, standalone) and
        then periodically: with replicas sharing kopf's annotations, the leader's kopf can miss a
        Remediation's creation (the follower won the race to add kopf's finalizer, or already recorded the
        change as seen), so kopf's handlers alone would leave a run waiting forever. With ``listing`` it
        reads every Remediation from the API; without, it reads afresh only those the watch shows unsettled
        and not driven here (:meth:`observe`), which costs nothing while every run is driven: listing 1,000
        waiting runs every 10 s cost about 1.5 % of a core. A run already driven here is left alone.
        """
        if self._draining:
            return 0
        found: list[Mapping[str, Any]] = []
        if listing or self._unsettled is None:
            where: Sequence[str | None] = namespaces or [None]  # None: every namespace (a cluster-wide operator)
            for namespace in where:
                found += await self.kube.list("Remediation", namespace, api_version=API_VERSION)
        else:
            for uid, (namespace, name) in list(self._unsettled.items()):
                if uid in self._known:
                    continue
                body = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
                if body is None:
                    self._unsettled.pop(uid, None)
                else:
                    found.append(body)
        adopted = 0
        for body in found:
            uid = _ids(body)[2]
            if self._draining or not _may_need_driver(body) or uid in self._known:
                continue  # a run started here before and now waiting (an approval, a pause) has its handlers
            await self.start(body)
            adopted += uid in self.tasks
        return adopted

    async def adopt_while_leading(
        self, namespaces: Sequence[str], *, wait_leading: Callable[[], Awaitable[None]], interval: float
    ) -> None:
        """Run :meth:`adopt` whenever this replica leads: at once on taking the Lease, then every ``interval``
        seconds (a run kopf's events missed starts within that). Runs until cancelled.

        The first round, and every ``LIST_EVERY``-th after it, lists every Remediation from the API; the
        others look only at what the watch shows unsettled (:meth:`observe`). The periodic listing is a net
        under the watch, not a need of it: it costs one list per five minutes at the default interval."""
        rounds = 0
        while not self._draining:
            await wait_leading()
            try:
                adopted = await self.adopt(namespaces, listing=rounds % LIST_EVERY == 0)
            except Exception as exc:  # the API server's refusal or absence: the next round tries again
                logger.warning("could not look for unfinished runs to adopt: %s", exc)
            else:
                rounds += 1
                if adopted:
                    logger.info("adopted %d unfinished run(s) as the leader", adopted)
            await asyncio.sleep(interval)

    async def _start(self, body: Mapping[str, Any]) -> None:
        namespace, name, uid = _ids(body)
        status = body.get("status") or {}
        if uid in self._accepted and uid not in self.tasks:
            # Started here already, and its task is done: the run finished, or waits for an answer, a pause
            # or a retry, which their own handlers give it. This call is kopf's create event arriving after
            # the receiver's hand-off started the run, with a body read before it ended: resuming from that
            # body would restart the run's bookkeeping (its status, its verification deadline).
            return
        if status.get("phase") == FAILED and uid not in self.tasks:
            await self.retry(body)  # a retry asked for while no operator was running
            return
        if status.get("phase") in (*TERMINAL_PHASES, VERIFYING) or uid in self.tasks:
            return  # a run in Verifying has finished its steps: suture.verify decides the rest
        self._known.add(uid)
        if _paused(body):
            self.engine.pause(run_id=uid)  # the request lives in memory; the spec asks again after a restart
        template_name = str(((body.get("spec") or {}).get("templateRef") or {}).get("name", ""))
        if status.get("startTime") and await self.engine.snapshot(run_id=uid) is not None:
            self.sink.track(
                run_id=uid,
                namespace=namespace,
                name=name,
                template=template_name,
                status=status,
                verify_window=await self._stored_window(body),
            )
            # Resumed after a restart: the checkpoint has everything, nothing is re-resolved.
            self.tasks[uid] = asyncio.create_task(self._drive(uid, body, lambda: self._continue_run(uid, body)))
            logger.info("[%s/%s] run resumed from its checkpoint", namespace, name)
            return
        # Checking the rate limits and recording the acceptance happen under one lock per
        # template: a burst of Remediations cannot all pass the same hourly budget.
        mark_stage("start", name)
        async with self._acceptance.setdefault(template_name, asyncio.Lock()):
            try:
                request, template = await build_run_request(
                    body,
                    kube=self.kube,
                    history=self.history,
                    registry=self.registry,
                    home_namespace=self.home_namespace,
                    gitops=self.gitops,
                )
            except RunRefused as refused:
                logger.warning("[%s/%s] run refused (%s): %s", namespace, name, refused.reason, refused.message)
                await self._refuse(body, refused)
                return
            mark_stage("request_built", name)
            version = {"generation": template.metadata.get("generation"), "hash": template.content_hash()}
            accepted = await self._accept(namespace, name, request.target, version)
            # Still under the lock: the next run of this template counts this one. A failed write raises
            # (kopf retries the start; the run is not counted against itself, and the insert is idempotent).
            await self.history.record_start(
                run_record(body, phase="Running", started_at=datetime.now(UTC), status=accepted)
            )
            self._accepted.add(uid)
        mark_stage("accepted", name)
        window = None
        if self.verify and not (request.dry_run or request.template.safety.dry_run):
            window = parse_duration(request.template.verify.alert_resolved_within)
        self.sink.track(
            run_id=uid, namespace=namespace, name=name, template=template_name, status=accepted, verify_window=window
        )
        self.tasks[uid] = asyncio.create_task(self._drive(uid, body, lambda: self.engine.start(request=request)))
        logger.info("[%s/%s] run accepted: template %s", namespace, name, template_name)

    async def _continue_run(self, uid: str, body: Mapping[str, Any]) -> RunOutcome:
        """Continue a run after a restart as its Remediation asks: a retry not yet begun, a pause withdrawn
        while no operator ran, or simply on from its checkpoint."""
        if (body.get("spec") or {}).get("cancel"):
            # Cancel requests live in the engine's memory: a restart forgets them, the spec does not. Asked
            # here, in the run's own task, before it goes on: a waiting run ends Cancelled before the resume
            # below would announce its wait again (announced after the cancel, the wait would be the last
            # status written).
            await self.engine.cancel(run_id=uid, rollback=await self._rollback_on_cancel(body))
        outcome = await self.engine.snapshot(run_id=uid)
        _, recorded = _retries(body)
        if outcome is not None and outcome.phase == FAILED and outcome.attempt < recorded + 1:
            return await self.engine.retry(run_id=uid, attempt=recorded + 1)
        if outcome is not None and outcome.phase == PAUSED and not _paused(body):
            resumed = await self.engine.unpause(run_id=uid)
            if resumed is not None:
                return resumed
        return await self.engine.resume(run_id=uid)

    async def _drive(self, uid: str, body: Mapping[str, Any], work: Work) -> None:
        try:
            outcome = await work()
            if outcome is None:
                return
            outcome = await self._answer_while_waiting(uid, body, outcome)
            outcome = await self._unpause_if_withdrawn(uid, body, outcome)
            self._revivals.pop(uid, None)
            await self._learn_from_failure(uid, body, outcome)
        except Exception:
            logger.exception("run %s failed unexpectedly", uid)
            self._revive_later(uid, body)
            raise
        finally:
            self._task_ended(uid, body)

    def _control(self, uid: str) -> asyncio.Lock:
        """The lock that lets one control of a run (a retry, an answer, a resume) at a time decide.

        Each looks for the run's task, reads the checkpoint (an await), then
        starts a task to drive the run. Two at once (kopf's handler and the
        re-check of :meth:`_task_ended`) would both find no task and drive the
        run twice: the second would answer an approval the first had already
        passed, and its late ``Running`` report would overwrite the run's end.
        Held only while deciding: the run goes on in its own task.
        """
        return self._controls.setdefault(uid, asyncio.Lock())

    def _task_ended(self, uid: str, body: Mapping[str, Any]) -> None:
        """Forget a run's ended task, and take up what its spec asked for while the task was busy.

        A Failed status is written before the task's last work (learning the
        failure), and a task reads the spec for an answer or a withdrawn pause
        a moment before it ends: a retry, an answer or a resume written in
        between finds the task still there, and kopf calls each handler only
        once per change.
        """
        self.tasks.pop(uid, None)
        if uid not in self._recheck:
            return
        self._recheck.discard(uid)
        namespace, name, _ = _ids(body)

        async def recheck() -> None:
            try:
                fresh = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
                if fresh is None:
                    return
                await self.retry(fresh)
                await self.approval_changed(fresh)
                if not _paused(fresh):
                    await self.pause_changed(fresh)  # a pause withdrawn: a Paused run goes on
            except Exception:
                logger.exception("[%s/%s] could not take up what the spec asked for as the run ended", namespace, name)

        self._background.add(task := asyncio.create_task(recheck(), name=f"suture-recheck-{uid}"))
        task.add_done_callback(self._background.discard)

    def _revive_later(self, uid: str, body: Mapping[str, Any]) -> None:
        """A run whose task died (a bug, a lost connection) is resumed from its checkpoint after a pause.

        A few times, with growing pauses; then it is left for the next restart,
        which resumes every unfinished run anyway.
        """
        self._accepted.discard(uid)  # no longer driven here: the revival (or the next start) resumes it
        count = self._revivals.get(uid, 0) + 1
        if count > len(REVIVE_DELAYS):
            logger.error("run %s died %d times; it resumes at the operator's next start", uid, count - 1)
            return
        self._revivals[uid] = count
        namespace, name, _ = _ids(body)

        async def revive() -> None:
            await asyncio.sleep(REVIVE_DELAYS[count - 1])
            fresh = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
            if fresh is not None and uid not in self.tasks:
                logger.warning("[%s/%s] resuming run %s after its task died (attempt %d)", namespace, name, uid, count)
                await self.start(fresh)

        self._background.add(task := asyncio.create_task(revive(), name=f"suture-revive-{uid}"))
        task.add_done_callback(self._background.discard)

    async def _stored_window(self, body: Mapping[str, Any]) -> float | None:
        """The verify window of a resumed run's template, read again (None: no verification).

        The run's checkpoint keeps the template it started with; only its
        verify window is read from the API, and a template gone or broken
        falls back to the default window rather than losing the verification.
        """
        if not self.verify or (body.get("spec") or {}).get("dryRun"):
            return None
        namespace, _, _ = _ids(body)
        try:
            template = await load_template(self.kube, Remediation.model_validate(dict(body)), namespace)
        except (RunRefused, ValueError):
            return parse_duration(Verify().alert_resolved_within)
        if template.spec.safety.dry_run:
            return None
        return parse_duration(template.spec.verify.alert_resolved_within)

    async def _learn_from_failure(self, uid: str, body: Mapping[str, Any], outcome: RunOutcome) -> None:
        """A failed or rolled-back run is Ineffective for its template; a learner failure is only logged."""
        if self.learner is None or outcome.phase not in INEFFECTIVE_PHASES:
            return
        namespace, name, _ = _ids(body)
        fresh = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
        if (((fresh or body).get("spec") or {}).get("approval") or {}).get("decision") == "Rejected":
            return  # a person said no (the run rolled back or stopped): nothing about the template's worth
        template = str(((body.get("spec") or {}).get("templateRef") or {}).get("name", ""))
        try:
            await self.learner.record(
                alert=alert_of(body),
                template=template,
                outcome="Ineffective",
                run_id=uid,
                remediation=fresh or body,
                phase=outcome.phase,
                template_version=template_version_of(fresh or body),
            )
        except Exception:
            metrics.LEARNING_FAILURES.inc()
            logger.exception("run %s: could not record its Ineffective outcome", uid)

    async def _answer_while_waiting(self, uid: str, body: Mapping[str, Any], outcome: RunOutcome) -> RunOutcome:
        """Give a paused run the answer stored in its Remediation, for as long as one names its question.

        The spec is read again at every pause: an answer written while the run
        was still on its way (or ahead of time, for a later approval) is not lost.
        """
        namespace, name, _ = _ids(body)
        while outcome.approval is not None:
            fresh = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
            answer = _decision(fresh or {})
            if answer is None or not _answers(answer, outcome.approval.id):
                return outcome
            try:
                outcome = await self.engine.approve(
                    run_id=uid,
                    decision=str(answer["decision"]),
                    by=str(answer.get("by", "")),
                    reason=str(answer.get("reason", "")),
                    approval_id=outcome.approval.id,
                )
            except ApprovalNotPending:
                return outcome
        return outcome

    async def _unpause_if_withdrawn(self, uid: str, body: Mapping[str, Any], outcome: RunOutcome) -> RunOutcome:
        """A run that just paused continues at once when its spec no longer asks for the pause (it was
        withdrawn while the run was on its way to the boundary)."""
        namespace, name, _ = _ids(body)
        while outcome.phase == PAUSED:
            fresh = await self.kube.get_or_none("Remediation", name, namespace, api_version=API_VERSION)
            if fresh is None or _paused(fresh):
                return outcome
            resumed = await self.engine.unpause(run_id=uid)
            if resumed is None:
                return outcome
            outcome = await self._answer_while_waiting(uid, body, resumed)
        return outcome

    async def pause_changed(self, body: Mapping[str, Any]) -> None:
        """See :meth:`_pause_changed`; one control at a time per run (see :meth:`_control`)."""
        async with self._control(_ids(body)[2]):
            await self._pause_changed(body)

    async def _pause_changed(self, body: Mapping[str, Any]) -> None:
        """Pause a run at its next step boundary (``spec.paused: true``), or continue it where it stopped.

        Never waits for the run: a run continued here goes on in its own task.
        """
        _, _, uid = _ids(body)
        if _paused(body):
            self.engine.pause(run_id=uid)
            return
        if uid in self.tasks:
            self.engine.withdraw_pause(run_id=uid)  # still on its way: it re-reads the spec if it stops,
            self._recheck.add(uid)  # and if it stopped already, see _task_ended
            return
        outcome = await self.engine.snapshot(run_id=uid)
        if outcome is None or outcome.phase != PAUSED:
            self.engine.withdraw_pause(run_id=uid)
            return
        self.tasks[uid] = asyncio.create_task(
            self._drive(uid, body, lambda: self.engine.unpause(run_id=uid)), name=f"suture-unpause-{uid}"
        )

    async def retry(self, body: Mapping[str, Any]) -> None:
        """See :meth:`_retry`; one control at a time per run (see :meth:`_control`)."""
        async with self._control(_ids(body)[2]):
            await self._retry(body)

    async def _retry(self, body: Mapping[str, Any]) -> None:
        """Run a Failed run again from the step that failed, when ``spec.retry`` asks for more retries than
        ``status.retries`` records; the attempt is recorded in the status first.

        A run that cannot be retried (it rolled back, or failed outside a step)
        gets a warning Event and stays as it is.
        """
        namespace, name, uid = _ids(body)
        asked, recorded = _retries(body)
        if asked <= recorded:
            return
        if uid in self.tasks:
            self._recheck.add(uid)  # the run's task is still ending (or running): see _task_ended
            return
        outcome = await self.engine.snapshot(run_id=uid)
        if outcome is None or outcome.retry_step is None:
            phase = outcome.phase if outcome is not None else (body.get("status") or {}).get("phase", "unknown")
            message = (
                f"cannot retry: the run is {phase}; only a run that Failed at a step, with nothing rolled back, can"
            )
            logger.warning("[%s/%s] %s", namespace, name, message)
            await post_event(
                self.kube, namespace=namespace, name=name, uid=uid, reason="RetryRefused", message=message, warning=True
            )
            return
        attempt = recorded + 2
        status = dict(body.get("status") or {})
        record = {
            "attempt": attempt,
            "step": outcome.retry_step,
            "time": now_iso(),
            "previousMessage": outcome.message[:4096],
        }
        retries = [*(status.get("retries") or []), record]
        message = f"attempt {attempt}: retrying from step {outcome.retry_step}"
        await self.kube.patch(
            "Remediation",
            name,
            {"status": {"retries": retries, "phase": "Running", "message": message, "completionTime": None}},
            namespace,
            subresource="status",
            api_version=API_VERSION,
        )
        template = str(((body.get("spec") or {}).get("templateRef") or {}).get("name", ""))
        self.sink.track(
            run_id=uid,
            namespace=namespace,
            name=name,
            template=template,
            status={**status, "phase": "Running"},
            verify_window=await self._stored_window(body),
        )
        await post_event(
            self.kube, namespace=namespace, name=name, uid=uid, reason="RetryStarted", message=message, warning=False
        )
        logger.info("[%s/%s] %s", namespace, name, message)
        self.tasks[uid] = asyncio.create_task(
            self._drive(uid, body, lambda: self.engine.retry(run_id=uid, attempt=attempt)), name=f"suture-retry-{uid}"
        )

    async def _accept(
        self, namespace: str, name: str, target: Mapping[str, Any] | None, version: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Record that the run is accepted: its start time (what rate limits count), its resolved target and
        the template version it runs."""
        status: dict[str, Any] = {"startTime": now_iso(), "templateVersion": dict(version)}
        if target:
            meta = target.get("metadata") or {}
            ref = {
                "apiVersion": target.get("apiVersion", ""),
                "kind": target.get("kind", ""),
                "name": meta.get("name", ""),
                "uid": meta.get("uid"),
            }
            if meta.get("namespace"):
                ref["namespace"] = meta["namespace"]
            status["target"] = ref
        await self.kube.patch(
            "Remediation", name, {"status": status}, namespace, subresource="status", api_version=API_VERSION
        )
        return status

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

    async def drain(self, *, timeout: float) -> None:
        """Shut down gently: every run stops at its next checkpoint, or where it is after ``timeout`` seconds.

        No run is marked as anything: each stays checkpointed and resumes at the next start (or on
        the replica that leads next). Returns within ``timeout`` plus the time cancelled tasks take.
        """
        self._draining = True  # adopt() starts nothing more
        self.engine.drain()
        running = [task for task in self.tasks.values() if not task.done()]
        if running:
            logger.info("shutting down: %d run(s) stopping at their next checkpoint", len(running))
            _, late = await asyncio.wait(running, timeout=timeout)
            if late:
                logger.warning("%d run(s) did not reach a checkpoint in %.0f s; stopping them", len(late), timeout)
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every run task (shutting down): each run stays checkpointed and resumes at the next start.

        The effect journal has recorded any write a task was in the middle of,
        so stopping mid-step loses nothing a restart cannot finish exactly once.
        """
        tasks = [*self.tasks.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def approval_changed(self, body: Mapping[str, Any]) -> None:
        """See :meth:`_approval_changed`; one control at a time per run (see :meth:`_control`)."""
        async with self._control(_ids(body)[2]):
            await self._approval_changed(body)

    async def _approval_changed(self, body: Mapping[str, Any]) -> None:
        """Hand an answer written to the spec to the run, if it waits for the approval the answer names.

        Never waits for the run: the run continues in its own task, so an
        answer cannot hold up a cancel or a delete of the same Remediation.
        """
        _, _, uid = _ids(body)
        if _decision(body) is None:
            return
        if uid in self.tasks:
            self._recheck.add(uid)  # busy: it reads the spec itself when it next pauses, or see _task_ended
            return
        outcome = await self.engine.snapshot(run_id=uid)
        if outcome is None or outcome.approval is None:
            return
        self.tasks[uid] = asyncio.create_task(self._continue(uid, body, outcome), name=f"suture-answer-{uid}")

    async def _continue(self, uid: str, body: Mapping[str, Any], outcome: RunOutcome) -> None:
        try:
            outcome = await self._answer_while_waiting(uid, body, outcome)
            await self._learn_from_failure(uid, body, outcome)
        except Exception:
            logger.exception("run %s failed unexpectedly", uid)
            raise
        finally:
            self._task_ended(uid, body)

    async def _rollback_on_cancel(self, body: Mapping[str, Any]) -> bool:
        """Whether the Remediation's template asks for a cancelled run to be rolled back."""
        try:
            template = await load_template(self.kube, Remediation.model_validate(dict(body)), _ids(body)[0])
        except (RunRefused, ValueError):
            return False  # template gone or broken: stop without undoing
        return template.spec.safety.rollback_on_cancel

    async def cancel(self, body: Mapping[str, Any]) -> None:
        """Stop a run at its next step boundary, rolling back when the template asks for it."""
        _, _, uid = _ids(body)
        await self.engine.cancel(run_id=uid, rollback=await self._rollback_on_cancel(body))
        task = self.tasks.get(uid)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
