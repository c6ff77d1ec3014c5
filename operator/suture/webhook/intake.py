"""From a validated Alertmanager notification to stored Remediations.

For each firing alert: an occurrence already stored is counted as existing;
otherwise the candidates (Valid templates whose ``match`` admits it) are
ranked, the chosen template's target is resolved, and either a Remediation is
created under the occurrence's deterministic name or, when the target already
has an active Remediation, the alert is recorded on that one, or, when a
safety rule of ``suture.runs`` (namespace allow/deny, cooldown, runs per hour)
would refuse the run, the alert is answered as suppressed with the rule's
reason and nothing is created. For each resolved
alert: its resolution time is written on its Remediation.

Every write reaches the API server before :meth:`Intake.receive` returns; an
API server that cannot be reached raises :class:`RetryLater` so the HTTP
layer answers 503 and Alertmanager retries. Alert labels are data: they are
matched against templates and copied into the Remediation, never evaluated,
never used to build a URL, selector or query (the namespace label only after
it passed the DNS-label check, and only to choose among watched namespaces).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from suture import metrics
from suture.api import (
    API_VERSION,
    LIVE_CONTEXT_KEY,
    TERMINAL_PHASES,
    AlertInfo,
    AlertmanagerAlert,
    AlertmanagerPayload,
    ObjectRef,
    RemediationSpec,
    TemplateRef,
    to_k8s,
)
from suture.errors import RunRefused
from suture.kube import ApiError, KubeClient
from suture.logs import mark_stage
from suture.runs.safety import check_rate, check_target_namespace
from suture.store import History
from suture.targets import TargetError, resolve_target
from suture.webhook.catalog import IndexedTemplate, TemplateCatalog, candidates
from suture.webhook.livecontext import ContextReader
from suture.webhook.naming import occurrence_time, remediation_name
from suture.webhook.pause import read_pause
from suture.webhook.ranking import Ranked, Ranker, rank_without_blocking
from suture.webhook.starts import RecentStartsCache

logger = logging.getLogger("suture.webhook")

T = TypeVar("T")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
TARGET_UID_LABEL = "suture.dev/target-uid"
FINGERPRINT_LABEL = "suture.dev/fingerprint"
MAX_RELATED = 100
REMEDIATION_CRD = "remediations.suture.dev"
CONCURRENCY = 8  # API calls in flight per notification


class RetryLater(Exception):
    """Nothing is lost if the sender retries, and something would be if we answered 2xx.

    The API server could not be reached, timed out, or answered 5xx, 429, 401
    or 403; or the template index has not caught up yet. The HTTP layer answers 503.
    """


@dataclass
class Summary:
    """What became of each alert of one notification (the 200 reply's body)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    resolved_unknown: int = 0
    unmatched: int = 0
    suppressed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON reply: names of Remediations per outcome, counts, and each suppression's reason."""
        return {
            "created": sorted(self.created),
            "existing": sorted(set(self.existing)),
            "resolved": sorted(set(self.resolved)),
            "resolvedUnknown": self.resolved_unknown,
            "unmatched": self.unmatched,
            "suppressed": self.suppressed,
        }


def _missing_kind(exc: ApiError) -> str:
    """What a 404 says is missing (its Status ``details.kind``: "namespaces" for a namespace), "" when unsaid.

    An API server that does not serve a resource type answers a plain-text
    "404 page not found", with no Status details at all.
    """
    details = exc.body.get("details")
    return str(details.get("kind") or "") if isinstance(details, Mapping) else ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_context(alert: AlertmanagerAlert) -> dict[str, Any]:
    """The alert as templates see it (``alert.*`` in expressions), the same shape a Remediation's run gets."""
    return {
        "name": alert.name,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "fingerprint": alert.fingerprint,
        "startsAt": occurrence_time(alert.starts_at),
    }


class Intake:
    """Turns notifications into Remediations; one instance per process, safe for concurrent requests."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        catalog: TemplateCatalog,
        ranker: Ranker,
        home_namespace: str,
        watched_namespaces: Sequence[str] = (),
        api_timeout: float = 5.0,
        on_created: Callable[[dict[str, Any]], None] | None = None,
        live_context: ContextReader | None = None,
        history: History | None = None,
    ) -> None:
        """``history``: where started runs are recorded (cooldown and hourly budget at receipt); None leaves
        those two rules to the run start alone. ``on_created`` hears each Remediation this intake created,
        as the API server stored it."""
        self.kube = kube
        self.live_context = live_context
        self.catalog = catalog
        self.ranker = ranker
        self.home_namespace = home_namespace
        self.watched = frozenset(watched_namespaces)
        self.api_timeout = api_timeout
        self.history = history
        self._starts = RecentStartsCache(history) if history is not None else None
        self.on_created = on_created
        self._target_locks: dict[str, asyncio.Lock] = {}

    # -- the API server, with every failure that deserves a retry mapped once --------------------

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.api_timeout):  # not wait_for: no extra task per call on the hot path
                return await work()
        except TimeoutError:
            raise RetryLater(f"the API server did not answer within {self.api_timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"the API server is unreachable: {type(exc).__name__}") from None
        except ApiError as exc:
            if exc.status == 0:  # the client's ApiUnavailable: no answer at all
                raise RetryLater("the API server is unreachable") from None  # its message names paths: not echoed
            if exc.transient or exc.status in (401, 403):  # 403: RBAC being fixed is worth waiting for
                raise RetryLater(f"the API server answered {exc.status} {exc.reason}") from None
            raise

    # -- where an alert's Remediation lives ---------------------------------------------------

    def alert_namespace(self, alert: AlertmanagerAlert) -> str | None:
        """The alert's ``namespace`` label when it is a well-formed namespace name, else None."""
        value = alert.labels.get("namespace")
        return value if value is not None and DNS_LABEL.fullmatch(value) else None

    def possible_namespaces(self, alert: AlertmanagerAlert) -> list[str]:
        """Where the occurrence's Remediation can live, from the alert alone (so every replica agrees).

        A namespaced template's Remediation lives in the template's namespace,
        which is the alert's (watched) namespace; a ClusterWorkflowTemplate's in
        the home namespace, where ``suture.runs`` lets cluster templates run.
        """
        namespace = self.alert_namespace(alert)
        if (
            namespace is not None
            and namespace != self.home_namespace
            and (not self.watched or namespace in self.watched)
        ):
            return [namespace, self.home_namespace]
        return [self.home_namespace]

    async def _find(self, alert: AlertmanagerAlert, name: str) -> dict[str, Any] | None:
        """The occurrence's Remediation wherever it may live, or None (the places are asked at once)."""
        places = self.possible_namespaces(alert)
        if len(places) == 1:  # the common case: no tasks to gather
            found: dict[str, Any] | None = await self._call(
                lambda: self.kube.get_or_none("Remediation", name, places[0], api_version=API_VERSION)
            )
            return found
        answers = await asyncio.gather(
            *(
                self._call(
                    lambda namespace=namespace: self.kube.get_or_none(  # type: ignore[misc]
                        "Remediation", name, namespace, api_version=API_VERSION
                    )
                )
                for namespace in places
            )
        )
        for answer in answers:
            if answer is not None:
                result: dict[str, Any] = answer
                return result
        return None

    # -- a whole notification -----------------------------------------------------------------

    async def receive(self, payload: AlertmanagerPayload) -> Summary:
        """Store a Remediation (or a related-alert record, or a resolution) for every alert.

        Raises RetryLater when anything could not be stored; what was
        stored stays stored, and a retry finds it (deterministic names).
        """
        summary = Summary()
        firing = [a for a in payload.alerts if a.status == "firing"]
        if firing and not self.catalog.synced:
            # An empty index would call every alert unmatched and lose it: let Alertmanager retry.
            raise RetryLater("templates are not indexed yet")
        # The pause is read while each alert looks for its Remediation (one round trip saved on the
        # hot path); an alert awaits it before creating anything, and its failure still fails the reply.
        paused: asyncio.Future[str | None] | None = None
        if firing:
            paused = asyncio.ensure_future(self._call(lambda: read_pause(self.kube, namespace=self.home_namespace)))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(alert: AlertmanagerAlert) -> None:
            async with gate:
                if alert.status == "firing":
                    assert paused is not None
                    await self._firing(alert, summary, paused=paused)
                else:
                    await self._resolved(alert, summary)

        results = await asyncio.gather(*(one(a) for a in payload.alerts), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if paused is not None:
            await asyncio.wait([paused])  # settled, so a failed read fails the reply and is never left unretrieved
            if paused.exception() is not None:
                failures.insert(0, paused.exception())  # type: ignore[arg-type]
        if failures:
            raise failures[0]
        return summary

    # -- one firing alert ---------------------------------------------------------------------

    async def _firing(self, alert: AlertmanagerAlert, summary: Summary, *, paused: Awaitable[str | None]) -> None:
        name = remediation_name(fingerprint=alert.fingerprint, starts_at=alert.starts_at)
        found = await self._find(alert, name)
        if found is not None:
            await self._complete_recommendation(found, alert=alert)
            self._count(summary.existing, name, "firing", "existing")
            return
        context = alert_context(alert)
        admitted = candidates(self.catalog.templates(), labels=alert.labels, namespace=self.alert_namespace(alert))
        if not admitted:
            summary.unmatched += 1
            metrics.ALERTS_RECEIVED.labels("firing", "unmatched").inc()
            logger.info("alert %s matches no Valid template; nothing to do", alert.fingerprint)
            return
        ranked = list(await rank_without_blocking(self.ranker, await self._ranked_on(alert, context), admitted))
        if not ranked:  # a ranker that drops everything leaves nothing to run: say so, do not fail
            summary.unmatched += 1
            metrics.ALERTS_RECEIVED.labels("firing", "unmatched").inc()
            logger.info("alert %s: the ranker kept none of %d candidates", alert.fingerprint, len(admitted))
            return
        chosen = ranked[0].template
        reason = await paused
        if reason is not None:
            self._suppress(summary, alert, "Paused", f"remediation is paused for all alerts: {reason}")
            return
        namespace = chosen.namespace if chosen.kind == "WorkflowTemplate" else self.home_namespace
        if namespace not in self.possible_namespaces(alert):
            # Only reachable when the catalog holds templates of namespaces this receiver does not watch.
            self._suppress(summary, alert, "OutsideWatchedNamespaces", f"{chosen.display()} is not watched")
            return
        target = await self._resolve(chosen_ranked=ranked[0], context=context)
        if target is None:
            if not await self._refused(alert, summary, chosen, target=None):
                await self._create(alert, summary, name=name, namespace=namespace, ranked=ranked, target=None)
            return
        # One lock per target for the life of the process (a few bytes per target): releasing it
        # safely while others wait would cost more than it saves.
        lock = self._target_locks.setdefault(target.uid or "", asyncio.Lock())
        async with lock:
            active = await self._active_on(target)
            if any(a["metadata"]["name"] == name and a["metadata"]["namespace"] == namespace for a in active):
                self._count(summary.existing, name, "firing", "existing")
            elif active:
                await self._relate(alert, summary, active=active[0])
            elif not await self._refused(alert, summary, chosen, target=target):
                await self._create(alert, summary, name=name, namespace=namespace, ranked=ranked, target=target)

    async def _refused(
        self, alert: AlertmanagerAlert, summary: Summary, chosen: IndexedTemplate, *, target: ObjectRef | None
    ) -> bool:
        """True (and the alert counted as suppressed) when a safety rule of ``suture.runs`` refuses the run now.

        The same functions the run start calls, so the receiver never disagrees
        with it about a rule; the run start stays the authoritative check, as
        the template and the history can change before the run starts. The
        cooldown and rate checks are best effort here: they count the runs the
        SQL history recorded as started, so Remediations created but not yet
        started (a burst) pass here and are refused at their start; a history
        that cannot be read leaves the decision to the run start. Global
        dry-run is not a refusal: its alerts become Remediations that run dry.
        """
        assert chosen.spec is not None
        safety = chosen.spec.safety
        confine = chosen.namespace if chosen.kind == "WorkflowTemplate" else None
        try:
            if target is not None:
                check_target_namespace(safety, target_namespace=target.namespace, confine=confine)
            if self._starts is not None:
                await check_rate(
                    self._starts,
                    template=chosen.name,
                    safety=safety,
                    scope=confine,
                    target_uid=target.uid if target is not None else None,
                    now=datetime.now(UTC),
                )
        except RunRefused as refused:
            self._suppress(summary, alert, refused.reason, refused.message)
            return True
        except Exception as exc:  # the database, not the alert: the run start checks again and decides
            logger.warning("alert %s: cooldown and rate not checked at receipt: %s", alert.fingerprint, exc)
        return False

    async def _ranked_on(self, alert: AlertmanagerAlert, context: Mapping[str, Any]) -> Mapping[str, Any]:
        """What ranking reads: the alert, with its target's live context when a reader is set and finds some.

        Never fails and never retries: the reader bounds its own time, and an alert without context is ranked
        on its own text.
        """
        if self.live_context is None:
            return context
        live = await self.live_context.read(alert.labels)
        return context if live is None else {**context, LIVE_CONTEXT_KEY: live.as_dict()}

    async def _resolve(self, *, chosen_ranked: Ranked, context: Mapping[str, Any]) -> ObjectRef | None:
        """The chosen template's target, or None when it has none or it cannot be resolved now.

        An unresolvable target still gets its Remediation: the run refuses with
        the reason (TargetUnresolved) in its status, where people look.
        """
        chosen = chosen_ranked.template
        assert chosen.spec is not None
        if chosen.spec.target is None:
            return None
        confine = chosen.namespace if chosen.kind == "WorkflowTemplate" else None
        spec = chosen.spec.target
        try:
            resolved = await self._call(lambda: resolve_target(spec, alert=context, kube=self.kube, confine_to=confine))
        except TargetError as exc:
            logger.debug("alert %s: target not resolved: %s", context.get("fingerprint"), exc)
            return None
        except ApiError as exc:
            logger.debug("alert %s: target not resolved: %s", context.get("fingerprint"), exc)
            return None
        return resolved.ref

    async def _active_on(self, target: ObjectRef) -> list[dict[str, Any]]:
        """Remediations not yet finished whose target is ``target`` (by UID, which the API server assigned)."""
        selector = f"{TARGET_UID_LABEL}={target.uid}"
        scopes: list[str | None] = [None]
        if self.watched:
            scopes = [*sorted({*self.watched, self.home_namespace})]
        active = []
        for scope in scopes:
            items = await self._call(
                lambda scope=scope: self.kube.list(  # type: ignore[misc]
                    "Remediation", scope, api_version=API_VERSION, label_selector=selector
                )
            )
            active += [i for i in items if (i.get("status") or {}).get("phase") not in TERMINAL_PHASES]
        return sorted(active, key=lambda i: i["metadata"].get("creationTimestamp") or "")

    async def _create(
        self,
        alert: AlertmanagerAlert,
        summary: Summary,
        *,
        name: str,
        namespace: str,
        ranked: Sequence[Ranked],
        target: ObjectRef | None,
    ) -> None:
        chosen = ranked[0].template
        spec = RemediationSpec(
            template_ref=TemplateRef(name=chosen.name, kind=chosen.kind),
            alert=AlertInfo(
                name=alert.name,
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                fingerprint=alert.fingerprint,
                starts_at=occurrence_time(alert.starts_at),
                generator_url=alert.generator_url or None,
            ),
            target=target,
        )
        labels = {"app.kubernetes.io/managed-by": "suture", FINGERPRINT_LABEL: alert.fingerprint}
        if target is not None and target.uid:
            labels[TARGET_UID_LABEL] = target.uid
        body = {
            "apiVersion": API_VERSION,
            "kind": "Remediation",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": to_k8s(spec),
        }
        try:
            created = await self._call(
                lambda: self.kube.create("Remediation", body, namespace, api_version=API_VERSION)
            )
        except ApiError as exc:
            if exc.conflict:
                self._count(summary.existing, name, "firing", "existing")
                return
            if exc.not_found and _missing_kind(exc) == "namespaces":
                self._suppress(summary, alert, "NamespaceNotFound", f"namespace {namespace!r} does not exist")
                return
            if exc.not_found:
                # Not the namespace: the API server does not serve Remediations (the CRD is missing or not
                # yet established). Answering 2xx would lose the alert; Alertmanager retries a 503.
                logger.error(
                    "cannot create Remediations: the API server does not serve %s (is the CRD %s installed?)",
                    API_VERSION,
                    REMEDIATION_CRD,
                )
                raise RetryLater(f"the API server does not serve the {REMEDIATION_CRD} CRD") from None
            self._suppress(summary, alert, "RejectedByApiServer", exc.message[:300])
            return
        mark_stage("stored", name)
        if self.on_created is not None:
            self.on_created(created)
        self._count(summary.created, name, "firing", "created")
        metrics.REMEDIATIONS_CREATED.labels(chosen.name).inc()
        metrics.RECOMMENDATION_SCORE.labels(chosen.name).observe(ranked[0].score)
        await self._record_recommendation(name=name, namespace=namespace, ranked=ranked)

    async def _complete_recommendation(self, found: Mapping[str, Any], *, alert: AlertmanagerAlert) -> None:
        """Write the recommendation a previous delivery created the Remediation without.

        Creating and explaining are two writes; when the second failed, that
        delivery was answered 503 and this retry finishes the job, if the
        ranking still chooses the template the Remediation names.
        """
        meta = found.get("metadata") or {}
        if (found.get("status") or {}).get("recommendation") or (meta.get("labels") or {}).get(
            FINGERPRINT_LABEL
        ) != alert.fingerprint:
            return
        admitted = candidates(self.catalog.templates(), labels=alert.labels, namespace=self.alert_namespace(alert))
        on = await self._ranked_on(alert, alert_context(alert)) if admitted else {}
        ranked = list(await rank_without_blocking(self.ranker, on, admitted)) if admitted else []
        ref = (found.get("spec") or {}).get("templateRef") or {}
        if ranked and (ranked[0].template.name, ranked[0].template.kind) == (ref.get("name"), ref.get("kind")):
            await self._record_recommendation(name=str(meta["name"]), namespace=str(meta["namespace"]), ranked=ranked)

    async def _record_recommendation(self, *, name: str, namespace: str, ranked: Sequence[Ranked]) -> None:
        best, rest = ranked[0], ranked[1:]
        recommendation: dict[str, Any] = {
            "template": best.template.name,
            "score": best.score,
            "reasons": list(best.reasons),
            "alternatives": [
                {"template": r.template.name, "score": r.score, "reason": "; ".join(r.reasons)} for r in rest[:10]
            ],
        }
        if best.confidence is not None:
            recommendation["confidence"] = best.confidence
        if best.context is not None:
            recommendation["context"] = dict(best.context)
        await self._call(
            lambda: self.kube.patch(
                "Remediation",
                name,
                {"status": {"recommendation": recommendation}},
                namespace,
                subresource="status",
                api_version=API_VERSION,
            )
        )

    async def _relate(self, alert: AlertmanagerAlert, summary: Summary, *, active: Mapping[str, Any]) -> None:
        """Record ``alert`` on the target's active Remediation (compare-and-swap on its resourceVersion)."""
        meta = active["metadata"]
        entry = {
            "name": alert.name[:253],
            "fingerprint": alert.fingerprint,
            "startsAt": occurrence_time(alert.starts_at),
            "receivedAt": _now(),
            "labels": dict(alert.labels),
        }
        for _ in range(5):
            current = await self._call(
                lambda: self.kube.get("Remediation", meta["name"], meta["namespace"], api_version=API_VERSION)
            )
            related = list((current.get("status") or {}).get("relatedAlerts") or [])
            key = (entry["fingerprint"], entry["startsAt"])
            if any((r.get("fingerprint"), r.get("startsAt")) == key for r in related):
                break
            related = [*related, entry][-MAX_RELATED:]
            patch = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "status": {"relatedAlerts": related},
            }
            try:
                await self._call(
                    lambda patch=patch: self.kube.patch(  # type: ignore[misc]
                        "Remediation",
                        meta["name"],
                        patch,
                        meta["namespace"],
                        subresource="status",
                        api_version=API_VERSION,
                    )
                )
                break
            except ApiError as exc:
                if not exc.conflict:
                    raise RetryLater(f"could not record a related alert: {exc.status} {exc.reason}") from None
        else:
            raise RetryLater("could not record a related alert: the Remediation kept changing")
        self._suppress(
            summary, alert, "TargetBusy", f"recorded on {meta['namespace']}/{meta['name']}, active on the same target"
        )

    # -- one resolved alert -------------------------------------------------------------------

    async def _resolved(self, alert: AlertmanagerAlert, summary: Summary) -> None:
        name = remediation_name(fingerprint=alert.fingerprint, starts_at=alert.starts_at)
        when = alert.resolved_at() or datetime.now(UTC)
        patch = {"status": {"alert": {"resolvedAt": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}}
        for namespace in self.possible_namespaces(alert):
            try:
                await self._call(
                    lambda namespace=namespace: self.kube.patch(  # type: ignore[misc]
                        "Remediation", name, patch, namespace, subresource="status", api_version=API_VERSION
                    )
                )
            except ApiError as exc:
                if exc.not_found:
                    continue
                raise RetryLater(f"could not record a resolution: {exc.status} {exc.reason}") from None
            self._count(summary.resolved, name, "resolved", "recorded")
            return
        summary.resolved_unknown += 1
        metrics.ALERTS_RECEIVED.labels("resolved", "unknown").inc()

    # -- bookkeeping --------------------------------------------------------------------------

    @staticmethod
    def _count(bucket: list[str], name: str, status: str, outcome: str) -> None:
        bucket.append(name)
        metrics.ALERTS_RECEIVED.labels(status, outcome).inc()

    @staticmethod
    def _suppress(summary: Summary, alert: AlertmanagerAlert, reason: str, message: str) -> None:
        summary.suppressed.append({"fingerprint": alert.fingerprint, "reason": reason, "message": message})
        metrics.ALERTS_RECEIVED.labels("firing", "suppressed").inc()
        metrics.ALERTS_SUPPRESSED.labels(reason).inc()
        logger.info("alert %s suppressed: %s", alert.fingerprint, reason)
