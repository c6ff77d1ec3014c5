"""The operator's HTTP face: the Alertmanager webhook, health, readiness and metrics.

Every refusal is a JSON body ``{"error": ..., "field": ...}``. Bad input is
always a 4xx (Alertmanager drops those for good, which is right: a retry would
fail the same way); only an API server that cannot store the alerts gets a
5xx (503), which Alertmanager retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from suture import metrics
from suture.api import AlertmanagerPayload
from suture.logs import mark_stage
from suture.webhook.auth import Authenticator
from suture.webhook.backpressure import DEFAULT_MAX_IN_FLIGHT, RETRY_AFTER_SECONDS, InFlight
from suture.webhook.intake import Intake, RetryLater
from suture.webhook.naming import remediation_name
from suture.webhook.problems import HttpProblem, from_validation_error

logger = logging.getLogger("suture.webhook")

WEBHOOK_PATH = "/webhook/alertmanager"
DEFAULT_MAX_BODY = 1024 * 1024
INTAKE_KEY = web.AppKey("intake", Intake)
AUTH_KEY = web.AppKey("authenticator", Authenticator)


class Readiness(Protocol):
    """What /readyz asks: an empty list when ready, else what is missing, in plain words."""

    def __call__(self) -> Awaitable[list[str]]: ...


READINESS_KEY = web.AppKey("readiness", Readiness)
MAX_BODY_KEY = web.AppKey("max_body", int)
IN_FLIGHT_KEY = web.AppKey("in_flight", InFlight)


class Stopping(Protocol):
    """True once the operator shuts down: the webhook answers 503 from then on."""

    def __call__(self) -> bool: ...


STOPPING_KEY = web.AppKey("stopping", Stopping)
RECEIVED_KEY = web.RequestKey("received", float)  # wall-clock time the request arrived, for mark_stage

_REASONS = {404: "no such path", 405: "method not allowed", 413: "request body too large"}


@web.middleware
async def _json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Every error as JSON; an unexpected failure is logged and answered 500, never a dropped connection."""
    try:
        return await handler(request)
    except HttpProblem as problem:
        return web.json_response(problem.body(), status=problem.status, headers=problem.headers or None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _REASONS.get(exc.status, exc.reason)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response({"error": message, "field": None}, status=exc.status, headers=headers)
    except Exception:
        logger.exception("unexpected failure answering %s %s", request.method, request.path)
        return web.json_response({"error": "internal error; see the operator's log", "field": None}, status=500)


async def _webhook(request: web.Request) -> web.Response:
    started = time.perf_counter()
    request[RECEIVED_KEY] = time.time()
    status = 500
    try:
        response = await _handle_webhook(request)
        status = response.status
        return response
    except HttpProblem as problem:
        status = problem.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.WEBHOOK_DURATION.labels(str(status)).observe(time.perf_counter() - started)


async def _handle_webhook(request: web.Request) -> web.Response:
    if not request.app[AUTH_KEY].admits(request.headers.get("Authorization")):
        raise HttpProblem(401, "missing or wrong credentials", field="Authorization")
    if request.app[STOPPING_KEY]():
        # Shutting down: Alertmanager retries a 503, and the Service sends the retry to another replica.
        raise HttpProblem(503, "this replica is shutting down; retry")
    in_flight = request.app[IN_FLIGHT_KEY]
    if not in_flight.try_enter():
        raise HttpProblem(
            503,
            f"busy: {in_flight.limit} notifications in flight; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        return await _admitted_webhook(request)
    finally:
        in_flight.leave()


async def _admitted_webhook(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise HttpProblem(415, "the body must be JSON (Content-Type: application/json)", field="Content-Type")
    limit = request.app[MAX_BODY_KEY]
    if request.content_length is not None and request.content_length > limit:
        raise HttpProblem(413, f"request body larger than {limit} bytes", field=None)
    body = await request.read()  # aiohttp enforces client_max_size when the length is not declared
    try:
        payload = AlertmanagerPayload.model_validate_json(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    for alert in payload.alerts:
        if alert.status == "firing":
            name = remediation_name(fingerprint=alert.fingerprint, starts_at=alert.starts_at)
            mark_stage("received", name, at=request[RECEIVED_KEY])
    try:
        summary = await request.app[INTAKE_KEY].receive(payload)
    except RetryLater as exc:
        logger.warning("answering 503 so Alertmanager retries: %s", exc)
        raise HttpProblem(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    return web.json_response(summary.as_dict())


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    missing = await request.app[READINESS_KEY]()
    if missing:
        return web.json_response({"status": "not ready", "missing": missing}, status=503)
    return web.json_response({"status": "ready"})


async def _metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _always_ready() -> list[str]:
    return []


def build_app(
    *,
    intake: Intake,
    authenticator: Authenticator,
    readiness: Readiness = _always_ready,
    max_body: int = DEFAULT_MAX_BODY,
    stopping: Stopping = lambda: False,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> web.Application:
    """The aiohttp application; serve it with :func:`suture.webhook.server.serve`."""
    app = web.Application(middlewares=[_json_errors], client_max_size=max_body)
    app[INTAKE_KEY] = intake
    app[AUTH_KEY] = authenticator
    app[READINESS_KEY] = readiness
    app[MAX_BODY_KEY] = max_body
    app[STOPPING_KEY] = stopping
    app[IN_FLIGHT_KEY] = InFlight(max_in_flight)
    app.router.add_post(WEBHOOK_PATH, _webhook)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app
