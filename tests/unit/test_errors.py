"""Suture's one error tree: each class's category, whether it is retried, and the context its message carries."""

from __future__ import annotations

import ast
import inspect
import pickle
from pathlib import Path

import pytest

import suture.errors as errors_module
from suture.actions import ActionError, ApiError, ErrorCategory, RegistryError
from suture.errors import (
    CATEGORY_CLASSES,
    ActionConflict,
    ActionFailed,
    ActionForbidden,
    ActionInvalid,
    ActionNotFound,
    ActionTimeout,
    ActionTransient,
    ApiConflict,
    ApiForbidden,
    ApiInvalid,
    ApiNotFound,
    ApiTransient,
    ApiUnavailable,
    ApprovalNotPending,
    ConflictError,
    DeadlineExceeded,
    ExpressionError,
    FailedError,
    ForbiddenError,
    InvalidError,
    InvalidQuery,
    InvalidReference,
    InvalidTarget,
    InvalidTemplate,
    NotFoundError,
    PathError,
    PrometheusError,
    PrometheusUnavailable,
    RefusedConflict,
    RefusedForbidden,
    RefusedInvalid,
    RefusedNotFound,
    RunCancelled,
    RunRefused,
    StepConflict,
    StepFailed,
    StepFailedOther,
    StepForbidden,
    StepInvalid,
    StepNotFound,
    StepTimeout,
    StepTransient,
    SutureError,
    TargetChanged,
    TargetError,
    TargetForbidden,
    TargetNotFound,
    TemplateError,
    TemplateNotFound,
    TransientError,
    UnknownAction,
    UnknownKind,
    category_of,
    describe,
)

T, C, TO, NF, F, INV, FAIL = (
    ErrorCategory.TRANSIENT,
    ErrorCategory.CONFLICT,
    ErrorCategory.TIMEOUT,
    ErrorCategory.NOT_FOUND,
    ErrorCategory.FORBIDDEN,
    ErrorCategory.INVALID,
    ErrorCategory.FAILED,
)

EXPECTED: dict[type[SutureError], ErrorCategory] = {
    SutureError: FAIL,
    TransientError: T,
    ConflictError: C,
    DeadlineExceeded: TO,
    NotFoundError: NF,
    ForbiddenError: F,
    InvalidError: INV,
    FailedError: FAIL,
    ApiError: FAIL,
    ApiTransient: T,
    ApiUnavailable: T,
    ApiConflict: C,
    ApiNotFound: NF,
    UnknownKind: NF,
    ApiForbidden: F,
    ApiInvalid: INV,
    InvalidReference: INV,
    PrometheusError: FAIL,
    PrometheusUnavailable: T,
    InvalidQuery: INV,
    TemplateError: FAIL,
    TemplateNotFound: NF,
    InvalidTemplate: INV,
    TargetError: FAIL,
    TargetNotFound: NF,
    InvalidTarget: INV,
    TargetForbidden: F,
    TargetChanged: C,
    ExpressionError: INV,
    PathError: INV,
    RegistryError: INV,
    UnknownAction: INV,
    ActionError: FAIL,
    ActionTransient: T,
    ActionConflict: C,
    ActionTimeout: TO,
    ActionNotFound: NF,
    ActionForbidden: F,
    ActionInvalid: INV,
    ActionFailed: FAIL,
    StepFailed: FAIL,
    StepTransient: T,
    StepConflict: C,
    StepTimeout: TO,
    StepNotFound: NF,
    StepForbidden: F,
    StepInvalid: INV,
    StepFailedOther: FAIL,
    RunCancelled: FAIL,
    ApprovalNotPending: C,
    RunRefused: FAIL,  # a family base: RunRefused(reason, ...) is always one of its members
    RefusedInvalid: INV,
    RefusedNotFound: NF,
    RefusedConflict: C,
    RefusedForbidden: F,
}


def test_every_class_of_the_tree_is_listed_here() -> None:
    classes = {
        obj
        for obj in vars(errors_module).values()
        if inspect.isclass(obj) and issubclass(obj, SutureError) and obj.__module__ == errors_module.__name__
    }
    assert classes - set(EXPECTED) == set()


@pytest.mark.parametrize(("cls", "category"), EXPECTED.items(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_the_category_is_the_classs_and_retryable_follows_from_it(
    cls: type[SutureError], category: ErrorCategory
) -> None:
    assert cls.category is category
    assert issubclass(cls, CATEGORY_CLASSES[category]) or cls.category is FAIL
    assert category.retryable == (category in (T, C, TO))


def test_only_transient_conflict_and_timeout_are_retried() -> None:
    assert [c for c in ErrorCategory if c.retryable] == [T, C, TO]
    assert TransientError("down").retryable
    assert ConflictError("stale").retryable
    assert DeadlineExceeded("slow").retryable
    assert not NotFoundError("gone").retryable
    assert not ForbiddenError("no").retryable
    assert not InvalidError("bad").retryable
    assert not FailedError("broke").retryable


def test_context_is_keyword_only_and_said_in_the_message() -> None:
    err = InvalidError(
        "replicas must be at least 0",
        template="shop/restart",
        step="scale",
        action="scale",
        object="Deployment shop/web",
    )
    assert str(err) == "template shop/restart, step scale, scale on Deployment shop/web: replicas must be at least 0"
    assert (err.template, err.step, err.action, err.object) == ("shop/restart", "scale", "scale", "Deployment shop/web")
    assert err.message == "replicas must be at least 0"
    assert str(NotFoundError("not found", object="Deployment shop/web")) == "Deployment shop/web: not found"
    assert str(FailedError("plain")) == "plain"
    with pytest.raises(TypeError):
        InvalidError("bad", "shop/restart")  # type: ignore[misc]


def test_context_filled_in_later_shows_in_the_message() -> None:
    err = ActionError("no such container", category=ErrorCategory.INVALID)
    err.action = "set-image"
    assert str(err) == "set-image: no such container"


@pytest.mark.parametrize(
    ("category", "member"),
    [
        (T, ActionTransient),
        (C, ActionConflict),
        (TO, ActionTimeout),
        (NF, ActionNotFound),
        (F, ActionForbidden),
        (INV, ActionInvalid),
        (FAIL, ActionFailed),
        (None, ActionFailed),
    ],
)
def test_action_error_with_a_category_is_the_member_of_that_category(
    category: ErrorCategory | None, member: type[ActionError]
) -> None:
    err = (
        ActionError("it broke", action="scale")
        if category is None
        else ActionError("it broke", category=category, action="scale")
    )
    assert type(err) is member
    assert isinstance(err, ActionError)
    assert type(err).category is err.category is (category or FAIL)
    assert str(err) == "scale: it broke"


def test_an_action_errors_category_may_be_given_as_text() -> None:
    assert type(ActionError("x", category="not-found")) is ActionNotFound


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ApiInvalid),
        (401, ApiForbidden),
        (403, ApiForbidden),
        (404, ApiNotFound),
        (409, ApiConflict),
        (422, ApiInvalid),
        (429, ApiTransient),
        (500, ApiTransient),
        (503, ApiTransient),
        (405, ApiError),
    ],
)
def test_api_errors_are_classed_by_status(status: int, cls: type[ApiError]) -> None:
    err = ApiError(status, "Reason", "what the server said", {"code": status}, object="Deployment shop/web")
    assert type(err) is cls
    assert err.status == status
    assert err.body == {"code": status}
    assert str(err) == f"Deployment shop/web: {status} Reason: what the server said"
    assert err.transient == (cls is ApiTransient)
    assert err.not_found == (status == 404)
    assert err.conflict == (status == 409)


def test_no_answer_from_the_api_server_is_transient_and_says_so() -> None:
    err = ApiUnavailable("GET /api/v1/pods: connection reset")
    assert isinstance(err, ApiTransient)
    assert err.retryable
    assert err.transient
    assert err.status == 0
    assert str(err) == "GET /api/v1/pods: connection reset"


def test_references_never_sent_answer_as_the_server_would() -> None:
    assert InvalidReference("bad name").status == 400
    assert UnknownKind("unknown kind 'Foo'").status == 404
    assert not isinstance(InvalidReference("bad"), ValueError)  # no longer a ValueError signal


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        ("InvalidRemediation", RefusedInvalid),
        ("InvalidTemplate", RefusedInvalid),
        ("TemplateNotFound", RefusedNotFound),
        ("TargetNotFound", RefusedNotFound),
        ("TargetUnresolved", RefusedNotFound),
        ("TargetReplaced", RefusedConflict),
        ("NamespaceDenied", RefusedForbidden),
        ("RateLimited", RefusedForbidden),
        ("Cooldown", RefusedForbidden),
        ("LockedVariable", RefusedForbidden),
        ("TargetKindMismatch", RefusedInvalid),
        ("SomethingNew", RefusedInvalid),
    ],
)
def test_a_refusal_keeps_its_reason_and_has_the_reasons_category(reason: str, cls: type[RunRefused]) -> None:
    err = RunRefused(reason, "the words")
    assert type(err) is cls
    assert err.reason == reason
    assert err.message == str(err) == "the words"


def test_a_step_failure_has_the_category_asked_for_and_counts_attempts() -> None:
    err = StepFailed("timed out after 5s", category=TO, attempts=3, step="wait")
    assert isinstance(err, DeadlineExceeded)
    assert err.retryable
    assert err.attempts == 3
    assert str(err) == "step wait: timed out after 5s"


def test_an_expression_error_names_the_expression() -> None:
    err = ExpressionError("alert.labels.x", "no such key 'x'")
    assert str(err) == "no such key 'x' in expression 'alert.labels.x'"
    assert (err.expression, err.problem) == ("alert.labels.x", "no such key 'x'")


@pytest.mark.parametrize(
    "err",
    [
        ActionError("bad", category=INV, action="scale"),
        ApiError(409, "Conflict", "stale", None, object="Deployment shop/web"),
        ApiUnavailable("reset"),
        UnknownKind("Foo"),
        RunRefused("Cooldown", "too soon"),
        StepFailed("gave up", category=T, attempts=2),
        ExpressionError("x", "bad"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_a_pickle_round_trip(err: SutureError) -> None:
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert vars(copy) == vars(err)


def test_anything_outside_the_tree_is_a_bug_failed_and_named_by_type() -> None:
    assert category_of(KeyError("x")) is FAIL
    assert category_of(TimeoutError()) is FAIL
    assert category_of(ApiUnavailable("reset")) is T
    assert describe(KeyError("x")) == "KeyError: 'x'"
    assert describe(RuntimeError()) == "RuntimeError"
    assert describe(InvalidError("bad", step="s")) == "step s: bad"


def test_the_errors_module_imports_nothing_from_suture() -> None:
    tree = ast.parse(Path(errors_module.__file__ or "").read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    ]
    assert [name for name in imported if name.startswith("suture")] == []
