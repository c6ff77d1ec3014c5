"""kopf wiring. Each handler is a few lines that call plain, tested functions.

Run with ``suture run`` (or ``kopf run -m suture.handlers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from suture import metrics
from suture.actions import Registry, load_registry
from suture.admission import approval_stamp_problem
from suture.api import API_VERSION, GROUP, SETTLED_PHASES, VERSION
from suture.config import Settings, load_settings
from suture.engine import Engine, open_checkpointer
from suture.gitops import GitOpsSettings
from suture.kube import KubeClient, connect
from suture.lease import LeaseConfig, LeaseElector
from suture.logs import mark_stage
from suture.prometheus import HttpPromQLClient
from suture.recommend import Recommender
from suture.runs import KubeStatusSink, KubeTemplateSource, RemediationService
from suture.store import History, SqlJournal, open_database
from suture.validation import write_valid_condition
from suture.verify import HistoryLearner, HttpAlertmanager, RecommenderLearner, Verifier
from suture.webhook import (
    ByNameRanker,
    ContextReader,
    FallbackRanker,
    IndexCatalog,
    IndexedTemplate,
    Intake,
    PriorityRanker,
    Ranker,
    ReceiverReadiness,
    build_app,
    index_entry,
    require_authenticator,
    serve,
    tls_context,
    wait_until_indexed,
)

_registry: Registry | None = None
_log = logging.getLogger("suture.handlers")
DEFAULT_HOME_NAMESPACE = "default"  # outside a pod, with no SUTURE_HOME_NAMESPACE
ADOPT_INTERVAL = 10.0  # seconds between the leader's looks for runs kopf's events missed (suture.runs.service)


def registry() -> Registry:
    """The action registry, loaded once per process."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


@kopf.on.login()
def login(logger: kopf.Logger, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, then $KUBECONFIG; no client library involved."""
    return kopf.login_with_service_account(logger=logger, **kwargs) or kopf.login_with_kubeconfig(
        logger=logger, **kwargs
    )


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations: our status schema is structural and would prune it."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="suture.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="suture.dev")
    settings.posting.level = 20  # INFO and above become Kubernetes Events
    settings.peering.standalone = True  # replicas coordinate through suture.lease (README: High availability)
    if load_settings().namespaces:
        # Watching named namespaces needs no cluster-wide Namespace or CRD watch, and namespaced RBAC
        # (the chart's watchNamespaces) forbids the list: kopf would retry it for a minute first.
        settings.scanning.disabled = True
    registry()  # fail at start-up, not at the first template, when a pack is broken
    if os.environ.get("SUTURE_TRACE_STAGES"):
        logging.getLogger("suture.stages").setLevel(logging.DEBUG)


@kopf.on.startup()
async def start_engine(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Open the Kubernetes client, the checkpointer and the engine for the process's lifetime."""
    ours = load_settings()
    stack = contextlib.AsyncExitStack()
    kube = await connect(os.environ.get("KUBECONFIG"))
    stack.push_async_callback(kube.close)
    saver = await stack.enter_async_context(open_checkpointer(location=ours.checkpoint_location()))
    database = await stack.enter_async_context(open_database(location=ours.database_location()))
    history = History(database)  # one for the run start and the receiver: both count started runs there
    memo["history"] = history
    sink = KubeStatusSink(kube)
    engine = Engine(
        registry=registry(),
        kube=kube,
        checkpointer=saver,
        sink=sink,
        promql=HttpPromQLClient(ours.prometheus_url) if ours.prometheus_url else None,
        templates=KubeTemplateSource(kube),
        max_concurrent_runs=ours.max_concurrent_runs,
        dry_run=ours.dry_run,
        journal=SqlJournal(database),
    )
    stack.push_async_callback(engine.aclose)
    problem = await approval_stamp_problem(kube)
    if problem is not None:
        logger.error(
            "approvers are NOT authenticated: %s; spec.approval.by records whatever the client writes", problem
        )
    memo["stack"] = stack
    recommender = _open_recommender(ours)
    if recommender is not None:
        stack.callback(recommender.close)
    memo["recommender"] = recommender
    learner = RecommenderLearner(recommender) if recommender is not None else None
    memo["service"] = RemediationService(
        engine=engine,
        kube=kube,
        sink=sink,
        registry=registry(),
        home_namespace=ours.home_namespace or None,
        learner=HistoryLearner(history=history, inner=learner, kube=kube),
        verify=not ours.dry_run,  # a globally dry-run operator changes nothing, so there is nothing to verify
        gitops=GitOpsSettings(
            argocd_namespace=ours.argocd_namespace,
            argocd_label_tracking=ours.argocd_label_tracking,
            argocd_instance_label=ours.argocd_instance_label,
        ),
        history=history,
    )
    memo["verifier"] = Verifier(
        kube=kube,
        learner=learner,
        alerts=HttpAlertmanager(ours.alertmanager_url) if ours.alertmanager_url else None,
        history=history,
        promql=HttpPromQLClient(ours.prometheus_url) if ours.prometheus_url else None,
        check_interval=ours.verify_interval,
    )
    metrics.watch_run_slots(engine.limiter)
    memo["kube"] = kube
    memo["elector"] = _start_election(ours, kube=kube, service=memo["service"], stack=stack)
    logger.info(
        "engine ready: checkpoints in %s, at most %d runs at once%s",
        ours.checkpoint_location(),
        ours.max_concurrent_runs,
        ", global dry-run" if ours.dry_run else "",
    )


def _start_election(
    ours: Settings, *, kube: KubeClient, service: RemediationService, stack: contextlib.AsyncExitStack
) -> LeaseElector | None:
    """With leader election on, campaign for the Lease in the background; None standalone (always leading).

    Either way the replica that executes runs also adopts unfinished ones every ``ADOPT_INTERVAL``: a
    process killed just after accepting a run can leave it where the next process's kopf starts nothing
    (chaos trials showed it: its annotations likely record the create handler as done), and without
    adoption that run would wait for ever.
    """
    if not ours.leader_election:
        metrics.LEADER.set(1)  # standalone, this replica executes every run

        async def always_leading() -> None:
            return None

        _adopt_while_leading(ours, service=service, stack=stack, wait_leading=always_leading)
        return None
    config = LeaseConfig(
        namespace=ours.home_namespace or DEFAULT_HOME_NAMESPACE,
        name=ours.lease_name,
        duration=ours.lease_duration,
        renew_deadline=ours.lease_renew_deadline,
        retry_period=ours.lease_retry_period,
    )

    def lost() -> None:
        # Another replica may lead within (duration - renew deadline): stop every run now, then exit so the
        # pod restarts as a candidate (what client-go's users do); SIGTERM runs kopf's cleanup below.
        asyncio.get_running_loop().create_task(service.aclose())
        os.kill(os.getpid(), signal.SIGTERM)

    elector = LeaseElector(kube, config, on_lost=lost)
    campaign = asyncio.create_task(elector.run(), name="suture-leader-election")
    stack.callback(campaign.cancel)
    _adopt_while_leading(ours, service=service, stack=stack, wait_leading=elector.wait_leading)
    return elector


def _adopt_while_leading(
    ours: Settings,
    *,
    service: RemediationService,
    stack: contextlib.AsyncExitStack,
    wait_leading: Callable[[], Awaitable[None]],
) -> None:
    """Adopt unfinished runs in the background whenever this replica leads, until the operator stops."""
    adoption = asyncio.create_task(
        service.adopt_while_leading(ours.namespaces, wait_leading=wait_leading, interval=ADOPT_INTERVAL),
        name="suture-adopt-runs",
    )
    stack.callback(adoption.cancel)


async def _as_leader(memo: kopf.Memo, body: kopf.Body) -> dict[str, Any] | None:
    """The Remediation, once this replica leads: at once when it does, else read again after the wait
    (the body kopf gave may be long stale by then); None when it is gone.

    A follower's Remediation handlers wait here rather than return: a handler that returned would let kopf
    record the change as handled in the object's annotations, which both replicas share, and the leader
    would never see it. Waiting writes nothing. It is not the only way a run reaches the leader: the
    leader's kopf can miss a creation altogether, so the leader also adopts unfinished runs itself
    (``RemediationService.adopt_while_leading``); ``start`` is serialised per run, so both may call it.
    """
    elector: LeaseElector | None = memo.get("elector")
    if elector is None or elector.leading:
        return dict(body)
    await elector.wait_leading()
    meta = body.get("metadata") or {}
    fresh: dict[str, Any] | None = await memo["kube"].get_or_none(
        "Remediation", str(meta.get("name")), str(meta.get("namespace")), api_version=API_VERSION
    )
    return fresh


def _open_recommender(ours: Settings) -> Recommender | None:
    """The learning recommender: over the data directory, or a Qdrant server when ``SUTURE_QDRANT_URL`` is
    set; None (ranking by priority, nothing learned) when it cannot be opened, e.g. another process holds the
    embedded index or the server does not answer: learning is worth less than running."""
    try:
        return Recommender.open(
            data_dir=ours.data_dir, qdrant_url=ours.qdrant_url or None, qdrant_api_key=ours.qdrant_api_key or None
        )
    except Exception as exc:
        metrics.LEARNING_FAILURES.inc()
        if ours.qdrant_url:
            # Neither the URL nor the client's message (which repeats it) is logged: it may carry credentials.
            _log.error(
                "the recommender's Qdrant server could not be used (%s); ranking by priority", type(exc).__name__
            )
        else:
            _log.exception("the recommender could not be opened in %s; ranking by priority", ours.data_dir)
        return None


@kopf.index(GROUP, VERSION, "workflowtemplates")
async def template_index(body: kopf.Body, **_: Any) -> dict[str, IndexedTemplate]:
    """Every WorkflowTemplate the operator watches, for the receiver's candidate search."""
    return {"all": index_entry(dict(body))}


@kopf.index(GROUP, VERSION, "clusterworkflowtemplates")
async def cluster_template_index(body: kopf.Body, **_: Any) -> dict[str, IndexedTemplate]:
    """Every ClusterWorkflowTemplate, for the receiver's candidate search."""
    return {"all": index_entry(dict(body))}


def _ranker(recommender: Recommender | None) -> Ranker:
    """The learned ranking with priority order as its fallback; priority alone without a recommender."""
    if recommender is None:
        return PriorityRanker()
    return FallbackRanker(ByNameRanker(recommender), PriorityRanker())


def _context_reader(kube: KubeClient, ours: Settings) -> ContextReader:
    """Reads each alert target's live context at receipt, within a second at most (it only informs ranking)."""
    return ContextReader(kube, timeout=min(ours.api_timeout, 1.0), namespaces=frozenset(ours.namespaces))


@kopf.on.startup()  # type: ignore[arg-type]  # kopf passes indexes by name; its ActivityFn type does not know
async def start_receiver(
    memo: kopf.Memo,
    logger: kopf.Logger,
    template_index: kopf.Index[str, IndexedTemplate],
    cluster_template_index: kopf.Index[str, IndexedTemplate],
    **_: Any,
) -> None:
    """Serve the webhook, /healthz, /readyz and /metrics in this process and event loop."""
    ours = load_settings()
    authenticator = require_authenticator(
        token_file=ours.webhook_token_file,
        basic_auth_file=ours.webhook_basic_auth_file,
        insecure=ours.insecure_webhook,
    )
    kube = memo["kube"]
    service = _service(memo)
    elector: LeaseElector | None = memo.get("elector")
    catalog = IndexCatalog([template_index, cluster_template_index])

    def hand_off(body: dict[str, Any]) -> None:
        # The leader starts the run at once; kopf's event and adoption stay the net (RemediationService.hand_off).
        # Only in namespaces kopf watches: sooner, never a run that kopf's handlers (approval, cancel) miss.
        namespace = (body.get("metadata") or {}).get("namespace")
        if (elector is None or elector.leading) and (not ours.namespaces or namespace in ours.namespaces):
            service.hand_off(body)

    intake = Intake(
        kube=kube,
        catalog=catalog,
        ranker=_ranker(memo.get("recommender")),
        home_namespace=ours.home_namespace or DEFAULT_HOME_NAMESPACE,
        watched_namespaces=ours.namespaces,
        api_timeout=ours.api_timeout,
        on_created=hand_off,
        # Context only feeds the learning recommender; ranking by priority would read it for nothing.
        live_context=_context_reader(kube, ours) if memo.get("recommender") is not None else None,
        history=memo["history"],
    )
    readiness = ReceiverReadiness(kube=kube, catalog=catalog)
    app = build_app(
        intake=intake,
        authenticator=authenticator,
        readiness=readiness,
        max_body=ours.webhook_max_body,
        stopping=lambda: readiness.stopping,
        max_in_flight=ours.webhook_max_in_flight,
    )
    tls = tls_context(cert_file=ours.tls_cert_file, key_file=ours.tls_key_file) if ours.tls_cert_file else None
    runner = await serve(app, host=ours.listen_address, port=ours.port, tls=tls)
    memo["stack"].push_async_callback(runner.cleanup)
    memo["readiness"] = readiness
    sync = asyncio.create_task(wait_until_indexed(kube=kube, catalog=catalog, namespaces=ours.namespaces))
    memo["stack"].callback(sync.cancel)
    logger.info(
        "receiver listening on %s://%s:%d%s",
        "https" if tls else "http",
        ours.listen_address,
        ours.port,
        "" if not authenticator.open else " WITHOUT authentication (--insecure-webhook)",
    )


@kopf.on.cleanup()
async def stop_engine(memo: kopf.Memo, **_: Any) -> None:
    """Fail /readyz and refuse webhooks (503: Alertmanager retries, another replica answers), let in-flight
    steps reach their checkpoint within the shutdown timeout, then give the Lease back and close."""
    readiness = memo.get("readiness")
    if readiness is not None:
        readiness.stopping = True
    service = memo.get("service")
    if service is not None:
        await service.drain(timeout=load_settings().shutdown_timeout)  # before the clients close under them
    elector: LeaseElector | None = memo.get("elector")
    if elector is not None:
        await elector.release()  # after the last write of this replica's runs: the next leader starts clean
    stack = memo.get("stack")
    if stack is not None:
        await stack.aclose()


def _service(memo: kopf.Memo) -> RemediationService:
    service: RemediationService = memo["service"]
    return service


@kopf.on.resume(GROUP, VERSION, "remediations")
@kopf.on.create(GROUP, VERSION, "remediations")
async def run_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Start (or, after a restart or a takeover, resume) the run of a Remediation."""
    mark_stage("event", str(body.get("metadata", {}).get("name", "")))
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).start(fresh)


@kopf.timer(
    GROUP,
    VERSION,
    "remediations",
    field="status.phase",
    value="Verifying",
    interval=load_settings().verify_interval,
    initial_delay=1.0,
)
async def verify_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Decide a succeeded run's outcome once the signals allow; the deadline lives in the status, so a
    restarted operator picks every Verifying Remediation up again here."""
    elector: LeaseElector | None = memo.get("elector")
    if elector is not None and not elector.leading:
        return  # the leader verifies; a timer writes nothing kopf keeps, so returning is safe here
    verifier: Verifier = memo["verifier"]
    await verifier.check(dict(body))


@kopf.on.field(GROUP, VERSION, "remediations", field="spec.approval")
async def answer_approval(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Hand an approval answer to the waiting run."""
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).approval_changed(fresh)


@kopf.on.field(GROUP, VERSION, "remediations", field="spec.cancel", value=True)
async def cancel_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Stop the run at its next step boundary."""
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).cancel(fresh)


@kopf.on.field(GROUP, VERSION, "remediations", field="spec.paused")
async def pause_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Pause the run at its next step boundary, or continue a paused one."""
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).pause_changed(fresh)


@kopf.on.field(GROUP, VERSION, "remediations", field="spec.retry")
async def retry_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Run a failed run again from the step that failed."""
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).retry(fresh)


def _may_still_act(status: kopf.Status, **_: Any) -> bool:
    """Whether a Remediation's run may still act or roll back: only then does kopf keep its finalizer on it."""
    return str(status.get("phase") or "") not in SETTLED_PHASES


@kopf.on.delete(GROUP, VERSION, "remediations", when=_may_still_act)
async def delete_remediation(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A deleted Remediation stops its run (and rolls back when the template asks) before it goes."""
    fresh = await _as_leader(memo, body)
    if fresh is not None:
        await _service(memo).cancel(fresh)


@kopf.on.event(GROUP, VERSION, "remediations")
async def follow_remediation(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every watch event: the service's view of unsettled runs (what adoption reads), and the status sink
    drops a Remediation once it is gone (settled ones have no finalizer). Async: no thread hop per event."""
    service = _service(memo)
    service.observe(type, body)
    if type == "DELETED":
        service.sink.forget(str(body.get("metadata", {}).get("uid", "")))


@kopf.on.resume(GROUP, VERSION, "workflowtemplates")
@kopf.on.create(GROUP, VERSION, "workflowtemplates")
@kopf.on.update(GROUP, VERSION, "workflowtemplates", field="spec")
@kopf.on.resume(GROUP, VERSION, "clusterworkflowtemplates")
@kopf.on.create(GROUP, VERSION, "clusterworkflowtemplates")
@kopf.on.update(GROUP, VERSION, "clusterworkflowtemplates", field="spec")
async def validate_template(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Set the template's Valid condition from the same checks as ``suture validate``."""
    prometheus = bool(load_settings().prometheus_url)
    valid = await write_valid_condition(memo["kube"], dict(body), registry=registry(), prometheus=prometheus)
    if valid is not None and valid["status"] == "False":
        logger.warning("template is invalid: %s", valid["message"])
