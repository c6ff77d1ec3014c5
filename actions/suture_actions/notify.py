"""People: post a message to a webhook (Slack-compatible)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from pydantic import Field, field_validator, model_validator

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    ErrorCategory,
    Risk,
    action,
)
from suture_actions._common import would

# Slack's attachment colours; anything else gets a neutral grey.
_COLORS = {
    "critical": "danger",
    "error": "danger",
    "high": "danger",
    "page": "danger",
    "warning": "warning",
    "medium": "warning",
    "info": "#439FE0",
    "low": "#439FE0",
    "resolved": "good",
    "ok": "good",
}
_NEUTRAL = "#808080"
_SHORT_FIELD = 40  # Slack lays fields of at most this many characters out side by side


def redact(url: str) -> str:
    """The URL with everything after the host (and any user:password) replaced: tokens live there."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def _secrets_of(url: str) -> list[str]:
    """The pieces of a URL that may be credentials, longest first, to scrub from any text we pass on."""
    parts = urlsplit(url)
    pieces = [parts.path, parts.query, parts.fragment, parts.username or "", parts.password or ""]
    pieces += parts.path.split("/")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces += [key, value]
    # Short pieces ("v1", "api") are not secrets and scrubbing them would garble the text.
    return sorted({p for p in pieces if len(p) >= 6}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, "…")
    return text


class NotifyParams(ActionParams):
    """A message for a Slack-compatible incoming webhook."""

    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="Webhook URL (http or https). Prefer urlFrom: a URL here is stored in the template and the run.",
    )
    url_from: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,253}$",
        description="Key of the mounted notification Secret holding the URL (a file in SUTURE_NOTIFY_SECRETS_DIR, "
        "default /etc/suture/notify): the token never appears in templates, status or history.",
    )
    text: str = Field(min_length=1, max_length=40000, description="The message text.")
    title: str | None = Field(default=None, max_length=250, description="Attachment title.")
    severity: str | None = Field(
        default=None, max_length=32, description="critical, warning, info, resolved...: sets the attachment colour."
    )
    fields: dict[str, str] = Field(default_factory=dict, description="Attachment fields, name to value.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Give up after this many seconds.")

    @model_validator(mode="after")
    def _one_url(self) -> NotifyParams:
        if (self.url is None) == (self.url_from is None):
            raise ValueError("give exactly one of url and urlFrom")
        return self

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _checked_url(value)


def _checked_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host; a ValueError that never repeats it otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


SECRETS_DIR_ENV = "SUTURE_NOTIFY_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/etc/suture/notify"


def _url_of(params: NotifyParams) -> str:
    """The webhook URL: given, or read from the mounted notification Secret (re-read at every call: rotation)."""
    if params.url is not None:
        return params.url
    directory = Path(os.environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR))
    path = directory / str(params.url_from)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise ActionError(
            f"urlFrom {params.url_from!r}: no such key in the notification Secret mounted at {directory}",
            category=ErrorCategory.INVALID,
        ) from None
    try:
        return _checked_url(text)
    except ValueError as exc:
        raise ActionError(
            f"urlFrom {params.url_from!r}: the URL it holds {exc}", category=ErrorCategory.INVALID
        ) from None


def payload(params: NotifyParams) -> dict[str, Any]:
    """The Slack-compatible JSON body."""
    body: dict[str, Any] = {"text": params.text}
    attachment: dict[str, Any] = {}
    if params.title:
        attachment["title"] = params.title
    if params.severity:
        attachment["color"] = _COLORS.get(params.severity.lower(), _NEUTRAL)
    if params.fields:
        attachment["fields"] = [
            {"title": name, "value": value, "short": len(value) <= _SHORT_FIELD}
            for name, value in params.fields.items()
        ]
    if attachment:
        body["attachments"] = [attachment]
    return body


# Cloud instance-metadata endpoints hand out node credentials: a webhook URL must never reach them.
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.azure.internal"})
_METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})


async def _refuse_metadata_endpoints(url: str, safe: str) -> None:
    """Refuse link-local and instance-metadata destinations, by name and by every address the name resolves to."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    refused = ActionError(
        f"{safe} points at a link-local or cloud metadata address; notify never posts there",
        category=ErrorCategory.FORBIDDEN,
    )
    if host in _METADATA_HOSTS:
        raise refused
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return  # unresolvable: the post fails with its own transient error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_link_local or address in _METADATA_ADDRESSES:
            raise refused


def _headers(ctx: ActionContext) -> dict[str, str]:
    return {"Idempotency-Key": ctx.idempotency_key} if ctx.idempotency_key else {}


@action(name="notify", family="notify", params=NotifyParams, risk=Risk.LOW, rbac=())
async def notify(ctx: ActionContext, params: NotifyParams) -> ActionResult:
    """Post a message to a Slack-compatible webhook; the URL's path and query never appear in messages or output.

    Under dry-run nothing is sent: the output shows the body that would be
    posted. Each post carries an ``Idempotency-Key`` header (the engine's key
    for this run and step), so a receiver can drop the repeat that a crash
    between the post and the step's checkpoint could cause; once the post has
    returned, the engine never calls the step's notify again. Redirects are not followed, so
    the message cannot be bounced to another host. 5xx and 429 answers are
    transient; 404 and 410 mean the webhook does not exist; other answers fail.
    """
    url = _url_of(params)
    safe = redact(url)
    body = payload(params)
    output: dict[str, Any] = {"url": safe, "sent": False}
    await _refuse_metadata_endpoints(url, safe)
    if ctx.dry_run:
        return ActionResult(
            changed=False, message=would(ctx, f"post a message to {safe}"), output={**output, "payload": body}
        )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=params.timeout_seconds)) as session,
            session.post(url, json=body, allow_redirects=False, headers=_headers(ctx)) as response,
        ):
            status, reason = response.status, response.reason or ""
            answer = (await response.text(errors="replace"))[:200]
    except TimeoutError:
        # `from None`: the aiohttp exception's text may carry the full URL.
        raise ActionError(
            f"{safe} did not answer within {params.timeout_seconds:g}s", category=ErrorCategory.TIMEOUT
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ActionError(f"could not post to {safe}: {type(exc).__name__}", category=ErrorCategory.TRANSIENT) from None
    ctx.logger.info("notify: %s answered %s", safe, status)
    if not 200 <= status < 300:
        if status == 429 or status >= 500:
            category = ErrorCategory.TRANSIENT
        elif status in (404, 410):
            category = ErrorCategory.NOT_FOUND
        else:
            category = ErrorCategory.FAILED
        detail = _scrub(answer.strip(), url)
        raise ActionError(
            f"{safe} answered {status} {_scrub(reason, url)}" + (f": {detail}" if detail else ""),
            category=category,
        )
    return ActionResult(
        changed=True,
        message=f"posted a message to {safe} ({status})",
        output={**output, "sent": True, "status": status},
    )


ACTIONS: list[ActionSpec[Any]] = [notify]
