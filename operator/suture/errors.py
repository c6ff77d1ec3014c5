"""Suture's errors: one tree, whose classes say what went wrong and whether a retry can help.

Every error Suture raises on purpose is a :class:`SutureError`. Its *category*
is a property of its class (:attr:`SutureError.category`, an
:class:`ErrorCategory`), and the engine retries a step exactly when the
category is retryable: ``transient``, ``conflict`` and ``timeout``. An
exception outside this tree reaching the engine is a bug: the step fails with
category ``failed``, unretried, its type named in the message.

Each outside exception (aiohttp, OSError, asyncio timeouts, the CEL library)
is turned into one of these classes once, in the client that meets it; code
above those clients only ever sees the tree.

The tree (a family such as ``ApiError`` also sits under the root, and its
members inherit both the family and a category class)::

    SutureError                      failed        the root; also any family's own category
    ├── TransientError               transient     retried
    │   ├── ApiTransient             (ApiError)    429 Too Many Requests, 5xx
    │   │   └── ApiUnavailable       (ApiError)    no answer: connection refused/reset, TLS, timeout
    │   ├── PrometheusUnavailable    (PrometheusError) no answer, or a 5xx, from Prometheus
    │   └── ActionTransient, StepTransient
    ├── ConflictError                conflict      retried
    │   ├── ApiConflict              (ApiError)    409
    │   ├── TargetChanged            (TargetError) an owner was replaced while resolving
    │   ├── ApprovalNotPending       an answer for a run that is not waiting for one
    │   └── ActionConflict, StepConflict, RefusedConflict
    ├── DeadlineExceeded             timeout       retried
    │   └── ActionTimeout, StepTimeout
    ├── NotFoundError                not-found
    │   ├── ApiNotFound              (ApiError)    404
    │   │   └── UnknownKind          a kind neither in the table nor served (never sent)
    │   ├── TemplateNotFound         (TemplateError)
    │   ├── TargetNotFound           (TargetError)
    │   └── ActionNotFound, StepNotFound, RefusedNotFound
    ├── ForbiddenError               forbidden
    │   ├── ApiForbidden             (ApiError)    401, 403
    │   ├── TargetForbidden          (TargetError) outside the template's namespace
    │   └── ActionForbidden, StepForbidden, RefusedForbidden
    ├── InvalidError                 invalid
    │   ├── ApiInvalid               (ApiError)    400, 422
    │   │   └── InvalidReference     a kind, name or namespace unfit for a URL path (never sent)
    │   ├── InvalidQuery             (PrometheusError) Prometheus refused the query or its result's shape
    │   ├── InvalidTemplate          (TemplateError)
    │   ├── InvalidTarget            (TargetError)
    │   ├── ExpressionError          a CEL value that does not compile or evaluate
    │   ├── PathError                a field path that does not parse
    │   ├── RegistryError            a pack that does not load or register
    │   │   └── UnknownAction
    │   └── ActionInvalid, StepInvalid, RefusedInvalid
    ├── FailedError                  failed
    │   └── ActionFailed, StepFailedOther
    └── RunCancelled                 failed        the run was cancelled while a step waited

Families, each under the root: :class:`ApiError` (``ApiError(status, reason,
message)`` returns the class of that status), :class:`ActionError` and
:class:`StepFailed` (``ActionError(message, category=...)`` returns the
family's member of that category), :class:`RunRefused` (``RunRefused(reason,
message)`` returns the member of the reason's category), :class:`TargetError`,
:class:`TemplateError`, :class:`PrometheusError`. ``except ActionError``
catches every action failure; ``except TransientError`` every transient one.

What raises what:

============================  ===============================================  ===========================
module                        raises                                           maps from
============================  ===============================================  ===========================
``kube/client.py``            ApiError by status, ApiUnavailable               HTTP answers; TransportError,
                                                                               OSError, TimeoutError
``kube/aiotransport.py``      (TransportError, kube's own seam)                aiohttp.ClientError
``kube/resources.py``         InvalidReference, UnknownKind
``prometheus.py``             PrometheusUnavailable, InvalidQuery              aiohttp.ClientError,
                                                                               OSError, TimeoutError, 5xx
``expr/values.py``            ExpressionError                                  CEL's ValueError, KeyError,
                                                                               RuntimeError, TypeError
``expr/paths.py``             PathError
``targets.py``                TargetNotFound, InvalidTarget, TargetForbidden,
                              TargetChanged
``runs/templates.py``         TemplateNotFound, InvalidTemplate
``runs/request.py``           RunRefused (with its CamelCase ``reason``)
``actions/registry.py``       RegistryError, UnknownAction; ActionError        an ApiError from an action
                                                                               keeps its category
action packs                  ActionError(message, category=...)
``engine/`` (steps)           StepFailed (with ``attempts``), RunCancelled,
                              ApprovalNotPending
============================  ===============================================  ===========================

What the engine retries (a step with a ``retry`` policy, and ``wait.until``
polls): ``transient`` (ApiTransient, ApiUnavailable, PrometheusUnavailable,
ActionError(category=transient)), ``conflict`` (ApiConflict, TargetChanged,
ActionError(category=conflict)) and ``timeout`` (an attempt that ran out of
time, DeadlineExceeded). Nothing else is retried: a retry cannot fix bad
input, a missing object or a refusal.

Every error can carry what it concerns as keyword-only context (``template``,
``step``, ``action``, ``object`` such as ``"Deployment shop/web"``); ``str()``
puts it before the message in plain words, e.g. ``step scale,
scale-deployment on Deployment shop/web: replicas must be at least 0``.

This module is the bottom layer of Suture: it imports nothing from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Self, cast


class ErrorCategory(StrEnum):
    """Why something failed; decides whether a retry can help."""

    TRANSIENT = "transient"  # API or Prometheus unavailable, throttled, 5xx: retry
    CONFLICT = "conflict"  # optimistic-concurrency conflict that outlived our own retries
    INVALID = "invalid"  # bad parameters or an object in a state the action cannot handle
    FORBIDDEN = "forbidden"  # RBAC or safety policy says no
    NOT_FOUND = "not-found"  # the target does not exist
    TIMEOUT = "timeout"  # waited for something that did not happen in time
    FAILED = "failed"  # anything else: ran and did not achieve its goal, or a bug

    @property
    def retryable(self) -> bool:
        """True for the categories a retry can fix."""
        return self in (ErrorCategory.TRANSIENT, ErrorCategory.CONFLICT, ErrorCategory.TIMEOUT)


class SutureError(Exception):
    """The root of Suture's errors; ``str()`` is the plain-words message with its context.

    ``message`` is the bare message; ``template``, ``step``, ``action`` and
    ``object`` say what the error concerns (each may be empty and may be
    filled in later by a caller that knows more, e.g. the registry naming the
    action).
    """

    category: ClassVar[ErrorCategory] = ErrorCategory.FAILED
    """The category of every instance of this class."""

    # Set on a family base (ActionError, StepFailed, ...): its members by category,
    # so ``Family(message, category=c)`` can return the member that has category ``c``.
    _members: ClassVar[dict[ErrorCategory, type[SutureError]] | None] = None

    def __init_subclass__(cls, *, family: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if family:
            cls._members = {}
            return
        owner = _family_of(cls)
        if owner is not None and owner._members is not None:
            # The first (least derived) member of a category wins: ApiNotFound, not UnknownKind.
            owner._members.setdefault(cls.category, cls)

    def __init__(
        self,
        message: str,
        *,
        template: str = "",
        step: str = "",
        action: str = "",
        object: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.step = step
        self.action = action
        self.object = object

    @property
    def retryable(self) -> bool:
        """True when a retry can fix it (the category is transient, conflict or timeout)."""
        return self.category.retryable

    @property
    def concerns(self) -> str:
        """What the error concerns, in words (``template t, step s, action on Kind ns/name``); may be empty."""
        subject = self.action
        if self.object:
            subject = f"{subject} on {self.object}" if subject else self.object
        parts = [
            f"template {self.template}" if self.template else "",
            f"step {self.step}" if self.step else "",
            subject,
        ]
        return ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        concerns = self.concerns
        return f"{concerns}: {self.message}" if concerns else self.message


def _family_of(cls: type[SutureError]) -> type[SutureError] | None:
    """The nearest family base of ``cls`` (itself excluded), or None."""
    for base in cls.__mro__[1:]:
        if issubclass(base, SutureError) and base.__dict__.get("_members") is not None:
            return base
    return None


def _member(cls: type[SutureError], category: ErrorCategory | str | None) -> type[SutureError]:
    """The member of family ``cls`` with ``category``; ``cls`` itself when it is no family base or has none.

    Only a family base dispatches: ``ActionInvalid(..., category=...)`` stays
    an ActionInvalid, since Python would skip ``__init__`` for an object that
    is not an instance of the class called.
    """
    members = cls.__dict__.get("_members")
    if category is None or members is None:
        return cls
    found: type[SutureError] = members.get(ErrorCategory(category), cls)
    return found


# -- categories ------------------------------------------------------------------------------


class TransientError(SutureError):
    """Something did not answer or was overloaded; the same request may well succeed later."""

    category = ErrorCategory.TRANSIENT


class ConflictError(SutureError):
    """The world changed under us (a stale resourceVersion, a replaced object); retry from a fresh read."""

    category = ErrorCategory.CONFLICT


class DeadlineExceeded(SutureError):
    """Waited for something that did not happen in time (named so, not TimeoutError: that is a builtin)."""

    category = ErrorCategory.TIMEOUT


class NotFoundError(SutureError):
    """What was asked for does not exist."""

    category = ErrorCategory.NOT_FOUND


class ForbiddenError(SutureError):
    """RBAC, a namespace rule or a safety policy says no."""

    category = ErrorCategory.FORBIDDEN


class InvalidError(SutureError):
    """Bad input: parameters, an expression, a template, a reference; a retry cannot fix it."""

    category = ErrorCategory.INVALID


class FailedError(SutureError):
    """Ran and did not achieve its goal, for no reason the other categories name."""

    category = ErrorCategory.FAILED


CATEGORY_CLASSES: Mapping[ErrorCategory, type[SutureError]] = {
    ErrorCategory.TRANSIENT: TransientError,
    ErrorCategory.CONFLICT: ConflictError,
    ErrorCategory.TIMEOUT: DeadlineExceeded,
    ErrorCategory.NOT_FOUND: NotFoundError,
    ErrorCategory.FORBIDDEN: ForbiddenError,
    ErrorCategory.INVALID: InvalidError,
    ErrorCategory.FAILED: FailedError,
}
"""The category class of each category."""


# -- the Kubernetes API ----------------------------------------------------------------------


class ApiError(SutureError, family=True):
    """The API server refused a request; ``status`` is the HTTP code (0: no answer at all).

    ``ApiError(status, reason, message)`` returns the class for that status:
    :class:`ApiNotFound` (404), :class:`ApiConflict` (409), :class:`ApiInvalid`
    (400, 422), :class:`ApiForbidden` (401, 403), :class:`ApiTransient` (429,
    5xx); any other status stays a plain ApiError (category failed).
    """

    def __new__(cls, status: int = 0, *args: Any, **kwargs: Any) -> Self:
        chosen = _member(cls, _category_of_status(status)) if cls is ApiError else cls
        return cast(Self, super().__new__(chosen))

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        body: Mapping[str, Any] | None = None,
        **context: str,
    ) -> None:
        super().__init__(message, **context)
        self.args = (status, reason, message)
        self.status = status
        self.reason = reason
        self.body = dict(body or {})

    def __str__(self) -> str:
        answer = f"{self.status} {self.reason}: {self.message}" if self.status else self.message
        concerns = self.concerns
        return f"{concerns}: {answer}" if concerns else answer

    @property
    def not_found(self) -> bool:
        """The object (or its collection) does not exist."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """Optimistic-concurrency conflict or already-exists."""
        return self.status == 409

    @property
    def transient(self) -> bool:
        """Worth retrying as is: throttled (429), a server-side failure (5xx), or no answer at all."""
        return self.category is ErrorCategory.TRANSIENT


_STATUS_CATEGORIES: Mapping[int, ErrorCategory] = {
    400: ErrorCategory.INVALID,
    401: ErrorCategory.FORBIDDEN,
    403: ErrorCategory.FORBIDDEN,
    404: ErrorCategory.NOT_FOUND,
    409: ErrorCategory.CONFLICT,
    422: ErrorCategory.INVALID,
    429: ErrorCategory.TRANSIENT,
}


def _category_of_status(status: int) -> ErrorCategory | None:
    """The category an HTTP status maps to; None (a plain ApiError, failed) for the rest."""
    if status >= 500:
        return ErrorCategory.TRANSIENT
    return _STATUS_CATEGORIES.get(status)


class ApiTransient(ApiError, TransientError):
    """Throttled (429) or a server-side failure (5xx)."""


class ApiConflict(ApiError, ConflictError):
    """409: a stale resourceVersion, an object that already exists, a failed uid precondition."""


class ApiNotFound(ApiError, NotFoundError):
    """404: the object or its collection does not exist."""


class ApiForbidden(ApiError, ForbiddenError):
    """401 or 403: the credentials are not accepted, or RBAC says no."""


class ApiInvalid(ApiError, InvalidError):
    """400 or 422: the request itself is wrong."""


class ApiUnavailable(ApiTransient):
    """No answer from the API server (connection refused or reset, TLS failure, timeout); status 0."""

    def __init__(self, message: str, **context: str) -> None:
        super().__init__(0, "Unavailable", message, None, **context)
        self.args = (message,)


class InvalidReference(ApiInvalid):
    """A kind, apiVersion, name or namespace that cannot safely become part of a URL path (nothing was sent)."""

    def __init__(self, message: str, **context: str) -> None:
        super().__init__(400, "BadRequest", message, None, **context)
        self.args = (message,)


class UnknownKind(ApiNotFound):
    """A kind neither in the table nor registered (nor, in the client, discoverable); nothing was guessed."""

    def __init__(self, message: str, **context: str) -> None:
        super().__init__(404, "NotFound", message, None, **context)
        self.args = (message,)


# -- Prometheus ------------------------------------------------------------------------------


class PrometheusError(SutureError):
    """Prometheus could not answer a query; the message says why."""


class PrometheusUnavailable(PrometheusError, TransientError):
    """No answer from Prometheus (connection refused or reset, timeout) or a 5xx: try again later."""


class InvalidQuery(PrometheusError, InvalidError):
    """Prometheus refused the query (bad PromQL), or answered a result that is not a vector or scalar."""


# -- templates, targets, expressions ----------------------------------------------------------


class TemplateError(SutureError):
    """A template a run or subflow needs cannot be used; ``template`` names it."""


class TemplateNotFound(TemplateError, NotFoundError):
    """The template does not exist."""


class InvalidTemplate(TemplateError, InvalidError):
    """The template exists but does not validate."""


class TargetError(SutureError):
    """The target cannot be resolved; the message says which part and why."""


class TargetNotFound(TargetError, NotFoundError):
    """The object the alert names, or the owner the template asks for, does not exist."""


class InvalidTarget(TargetError, InvalidError):
    """A target name or namespace that is not a valid name, or an object that cannot have the asked owner."""


class TargetForbidden(TargetError, ForbiddenError):
    """The target lies outside what the template may touch."""


class TargetChanged(TargetError, ConflictError):
    """An owner was replaced while the chain was walked; resolving again can succeed."""


class ExpressionError(InvalidError):
    """An expression that does not compile or cannot be evaluated; the message names it."""

    def __init__(self, expression: str, problem: str, **context: str) -> None:
        super().__init__(f"{problem} in expression {expression!r}", **context)
        self.args = (expression, problem)
        self.expression = expression
        self.problem = problem


class PathError(InvalidError):
    """A field path that cannot be parsed."""


# -- actions and the registry ------------------------------------------------------------------


class RegistryError(InvalidError):
    """A pack could not be loaded, or two packs register the same action."""


class UnknownAction(RegistryError):
    """No installed pack registers an action of this name; the message lists the known ones."""


class ActionError(SutureError, family=True):
    """An action failed; ``str()`` is the plain-words message shown in status.

    ``ActionError(message, category=ErrorCategory.INVALID, action="scale")``
    is the constructor action packs use: it returns the member of this family
    with that category (here :class:`ActionInvalid`), so ``type(err).category``
    is the category asked for, ``except ActionError`` catches every action
    failure and ``except InvalidError`` every invalid one. Without a category
    it is :class:`ActionFailed`.
    """

    def __new__(cls, *args: Any, category: ErrorCategory | str | None = None, **kwargs: Any) -> Self:
        return cast(Self, super().__new__(_member(cls, category or ErrorCategory.FAILED)))

    def __init__(self, message: str, *, category: ErrorCategory | str | None = None, **context: str) -> None:
        # ``category`` chose the class in __new__; it is the class's own from here on.
        super().__init__(message, **context)


class ActionTransient(ActionError, TransientError):
    """An action met something unavailable or overloaded."""


class ActionConflict(ActionError, ConflictError):
    """An action's write conflicted, past its own retries."""


class ActionTimeout(ActionError, DeadlineExceeded):
    """An action waited for something that did not happen in time."""


class ActionNotFound(ActionError, NotFoundError):
    """An action's object does not exist."""


class ActionForbidden(ActionError, ForbiddenError):
    """RBAC or a safety rule refused an action."""


class ActionInvalid(ActionError, InvalidError):
    """Bad parameters, or an object in a state the action cannot handle."""


class ActionFailed(ActionError, FailedError):
    """The action ran and did not achieve its goal."""


# -- the engine ------------------------------------------------------------------------------------


class StepFailed(SutureError, family=True):
    """A step gave up; its class's category says why, ``attempts`` how often it tried.

    ``StepFailed(message, category=..., attempts=n)`` returns the member of
    that category, as :class:`ActionError` does.
    """

    def __new__(cls, *args: Any, category: ErrorCategory | str | None = None, **kwargs: Any) -> Self:
        return cast(Self, super().__new__(_member(cls, category or ErrorCategory.FAILED)))

    def __init__(
        self, message: str, *, category: ErrorCategory | str | None = None, attempts: int = 1, **context: str
    ) -> None:
        super().__init__(message, **context)
        self.attempts = attempts


class StepTransient(StepFailed, TransientError):
    """A step gave up on something unavailable."""


class StepConflict(StepFailed, ConflictError):
    """A step gave up on a conflict."""


class StepTimeout(StepFailed, DeadlineExceeded):
    """A step ran out of time."""


class StepNotFound(StepFailed, NotFoundError):
    """A step's object, template or owned step does not exist."""


class StepForbidden(StepFailed, ForbiddenError):
    """A step was refused."""


class StepInvalid(StepFailed, InvalidError):
    """A step's definition or input is wrong."""


class StepFailedOther(StepFailed, FailedError):
    """A step failed for no reason the other categories name (or a bug in it)."""


class RunCancelled(SutureError):
    """The run was cancelled while a step waited."""


class ApprovalNotPending(ConflictError):
    """An approval answer for a run that is not waiting for approval (any more)."""


# -- runs ------------------------------------------------------------------------------------------


REFUSAL_CATEGORIES: Mapping[str, ErrorCategory] = {
    "InvalidRemediation": ErrorCategory.INVALID,
    "InvalidTemplate": ErrorCategory.INVALID,
    "TargetKindMismatch": ErrorCategory.INVALID,
    "TemplateNotFound": ErrorCategory.NOT_FOUND,
    "TargetNotFound": ErrorCategory.NOT_FOUND,
    "TargetUnresolved": ErrorCategory.NOT_FOUND,
    "TargetReplaced": ErrorCategory.CONFLICT,
    "NamespaceDenied": ErrorCategory.FORBIDDEN,
    "RateLimited": ErrorCategory.FORBIDDEN,
    "Cooldown": ErrorCategory.FORBIDDEN,
    "LockedVariable": ErrorCategory.FORBIDDEN,
}
"""The category of each refusal reason; a reason not listed is ``invalid``."""


class RunRefused(SutureError, family=True):
    """A Remediation that must not run; ``reason`` is one CamelCase word for the status and the Event.

    ``RunRefused(reason, message)`` returns the member of the reason's
    category (:data:`REFUSAL_CATEGORIES`).
    """

    def __new__(cls, reason: str = "", *args: Any, **kwargs: Any) -> Self:
        return cast(Self, super().__new__(_member(cls, REFUSAL_CATEGORIES.get(reason, ErrorCategory.INVALID))))

    def __init__(self, reason: str, message: str, **context: str) -> None:
        super().__init__(message, **context)
        self.args = (reason, message)
        self.reason = reason


class RefusedInvalid(RunRefused, InvalidError):
    """The Remediation or its template is invalid."""


class RefusedNotFound(RunRefused, NotFoundError):
    """The template or the target does not exist."""


class RefusedConflict(RunRefused, ConflictError):
    """The target was replaced since the alert."""


class RefusedForbidden(RunRefused, ForbiddenError):
    """A namespace rule, a rate limit or a cooldown forbids the run."""


def category_of(exc: BaseException) -> ErrorCategory:
    """The category of any exception: its class's for a SutureError, ``failed`` (a bug) for anything else."""
    return exc.category if isinstance(exc, SutureError) else ErrorCategory.FAILED


def describe(exc: BaseException) -> str:
    """Plain words for any exception; anything outside the tree is named by its type, as the bug it is."""
    if isinstance(exc, SutureError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
