"""Leader election: one ``coordination.k8s.io/v1`` Lease, held from the operator's own event loop.

Every replica serves the webhook and creates Remediations; only the holder of
the Lease executes runs and verifies them. The rules are the ones client-go
follows, written over Suture's :class:`~suture.kube.KubeClient` (so the same
in-memory API server tests it) rather than the ``kubernetes`` package's
threaded elector, which never gives the Lease back on shutdown:

- A candidate takes the Lease when nobody holds it, or when its record has not
  changed for ``leaseDurationSeconds`` *as this candidate observed it* (its own
  monotonic clock: the holder's clock is never compared with ours).
- Every write is a compare-and-swap on ``metadata.resourceVersion``, so two
  candidates cannot both win; a 409 means someone else did.
- The holder renews every ``retry_period``; when it could not renew for
  ``renew_deadline`` (shorter than the duration) it stops leading before any
  other candidate may take over, so two leaders never act at once.
- :meth:`LeaseElector.release` empties ``holderIdentity``: a candidate takes a
  released Lease at its next attempt, so a planned handover takes seconds,
  not a lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.errors import ApiError, SutureError
from suture.kube import KubeClient

logger = logging.getLogger("suture.lease")

LEASE_API_VERSION = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class LeaseConfig:
    """Where the Lease lives, who we are, and its timing (client-go's defaults)."""

    namespace: str
    """The operator's home namespace."""
    name: str = "suture-leader"
    """The Lease's name; replicas of one installation share it."""
    identity: str = ""
    """This replica's name in ``holderIdentity``; default: host name and process id."""
    duration: float = 15.0
    """Seconds a candidate waits, after the Lease's record last changed, before taking it (a crash's failover)."""
    renew_deadline: float = 10.0
    """Seconds the holder keeps trying to renew before it stops leading; must be below ``duration``."""
    retry_period: float = 2.0
    """Seconds between attempts to take or renew (a clean handover's failover is at most this)."""

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period} < {self.renew_deadline} < {self.duration}"
            )

    @property
    def holder(self) -> str:
        """The identity written into the Lease."""
        return self.identity or default_identity()


def default_identity() -> str:
    """The pod's name (its host name) and the process id: two processes on one host never share it."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseElector:
    """Takes, renews and releases one Lease; says whether this replica leads (and the ``suture_leader`` gauge).

    Run :meth:`run` as a task; await :meth:`wait_leading` where only the
    leader may go on. ``on_lost`` is called once when leadership is lost
    without :meth:`release` (renewals failed past the deadline): the caller
    should stop acting at once, and the operator exits so that its pod
    restarts as a candidate.
    """

    def __init__(
        self,
        kube: KubeClient,
        config: LeaseConfig,
        *,
        on_lost: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.kube = kube
        self.config = config
        self.identity = config.holder
        self._on_lost = on_lost
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._leading = asyncio.Event()
        self._observed: tuple[Any, ...] | None = None  # the holder's record as last seen
        self._observed_at = 0.0  # our clock when that record was first seen
        self._renewed_at = 0.0
        self._released = False
        metrics.LEADER.set(0)

    @property
    def leading(self) -> bool:
        """True while this replica holds the Lease."""
        return self._leading.is_set()

    async def wait_leading(self) -> None:
        """Return once this replica leads (at once when it does)."""
        await self._leading.wait()

    async def run(self) -> None:
        """Take the Lease (retrying every retry period), then renew it until released, cancelled or lost."""
        while not self.leading:
            if await self.attempt():
                break
            if self._released:
                return
            await self._sleep(self.config.retry_period)
        while self.leading:
            await self._sleep(self.config.retry_period)
            if not self.leading:
                return  # released meanwhile
            left = self.config.renew_deadline - (self._clock() - self._renewed_at)
            try:
                renewed = await asyncio.wait_for(self.attempt(), timeout=max(left, 0.01))
            except TimeoutError:
                renewed = False
            if not renewed and self._clock() - self._renewed_at >= self.config.renew_deadline:
                self._lose()
                return

    async def attempt(self) -> bool:
        """One try to take or renew the Lease; True when this replica holds it afterwards.

        Never raises for the API server's answers: a refusal, a conflict or
        no answer is a failed attempt (logged), tried again by :meth:`run`.
        """
        try:
            held = await self._attempt()
        except SutureError as exc:  # ApiError, ApiUnavailable: the API server's answer, or none
            logger.warning("leader election: could not take or renew Lease %s: %s", self._where(), exc)
            held = False
        if held:
            self._renewed_at = self._clock()
            if not self.leading and not self._released:
                logger.info("leader election: %s now leads (Lease %s)", self.identity, self._where())
                self._leading.set()
                metrics.LEADER.set(1)
        return held and not self._released

    async def _attempt(self) -> bool:
        if self._released:
            return False
        lease = await self.kube.get_or_none(
            "Lease", self.config.name, self.config.namespace, api_version=LEASE_API_VERSION
        )
        now = self._now()
        if lease is None:
            try:
                await self.kube.create(
                    "Lease", self._body(now, previous=None), self.config.namespace, api_version=LEASE_API_VERSION
                )
            except ApiError as exc:
                if exc.conflict:
                    return False  # another candidate created it first
                raise
            return True
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        # Any write (a renewal) changes the resourceVersion, even one whose renewTime a coarse clock repeated.
        record = (holder, (lease.get("metadata") or {}).get("resourceVersion"), spec.get("renewTime"))
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        if holder and holder != self.identity:
            duration = float(spec.get("leaseDurationSeconds") or self.config.duration)
            if self._clock() - self._observed_at < duration:
                return False  # someone else holds it and has renewed within its duration
            logger.info("leader election: Lease %s of %s expired; taking it over", self._where(), holder)
        body = self._body(now, previous=lease)
        try:
            await self.kube.replace(
                "Lease", self.config.name, body, self.config.namespace, api_version=LEASE_API_VERSION
            )
        except ApiError as exc:
            if exc.conflict:
                return False  # the record changed under us: someone renewed or took it
            raise
        return True

    def _body(self, now: datetime, *, previous: dict[str, Any] | None) -> dict[str, Any]:
        spec = (previous or {}).get("spec") or {}
        ours = spec.get("holderIdentity") == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        metadata: dict[str, Any] = {"name": self.config.name, "namespace": self.config.namespace}
        if previous is not None:
            metadata = {**previous["metadata"]}  # keeps resourceVersion: the write is a compare-and-swap
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.config.duration),
                "acquireTime": spec.get("acquireTime") if ours else _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": transitions if ours or previous is None else transitions + 1,
            },
        }

    async def release(self) -> None:
        """Stop leading and give the Lease back, so a candidate takes it at its next attempt.

        Call it once this replica has stopped acting. Idempotent; never raises
        (a Lease that cannot be given back simply expires).
        """
        self._released = True
        was_leading = self.leading
        self._leading.clear()
        metrics.LEADER.set(0)
        if not was_leading:
            return
        try:
            lease = await self.kube.get_or_none(
                "Lease", self.config.name, self.config.namespace, api_version=LEASE_API_VERSION
            )
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": None, "leaseDurationSeconds": 1}
            spec["renewTime"] = _micro_time(self._now())
            await self.kube.replace(
                "Lease",
                self.config.name,
                {**lease, "spec": spec},
                self.config.namespace,
                api_version=LEASE_API_VERSION,
            )
            logger.info("leader election: %s released Lease %s", self.identity, self._where())
        except Exception as exc:
            logger.warning("leader election: could not release Lease %s (it expires instead): %s", self._where(), exc)

    def _lose(self) -> None:
        logger.error(
            "leader election: %s could not renew Lease %s for %.0f s; it stops leading",
            self.identity,
            self._where(),
            self.config.renew_deadline,
        )
        self._leading.clear()
        metrics.LEADER.set(0)
        if self._on_lost is not None:
            self._on_lost()

    def _where(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"
