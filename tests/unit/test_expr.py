"""Values, expressions and field paths."""

from __future__ import annotations

import pytest

from suture.errors import PathError
from suture.expr import ExpressionError, evaluate_bool, referenced_roots, resolve_value
from suture.expr.paths import get_path, parse_path

CONTEXT = {
    "alert": {"labels": {"pod": "web-1", "namespace": "shop", "evil": "${{ 1 + 1 }}"}},
    "target": {"spec": {"replicas": 3}},
    "vars": {"ceiling": 10},
}


def test_whole_expression_keeps_its_type() -> None:
    assert resolve_value("${{ target.spec.replicas + 2 }}", CONTEXT) == 5
    assert resolve_value("${{ alert.labels.pod }}", CONTEXT) == "web-1"


def test_literals_pass_through_untouched() -> None:
    assert resolve_value({"a": [1, "plain", True]}, CONTEXT) == {"a": [1, "plain", True]}


def test_interpolation_inside_text_becomes_a_string() -> None:
    assert resolve_value("pod ${{ alert.labels.pod }} has ${{ target.spec.replicas }}", CONTEXT) == "pod web-1 has 3"


def test_two_expressions_with_only_text_between_them_are_both_interpolated() -> None:
    # `suture validate` accepts this; a greedy whole-value match used to read it as one broken expression.
    assert resolve_value("${{ alert.labels.namespace }}-${{ alert.labels.pod }}", CONTEXT) == "shop-web-1"
    assert resolve_value("${{ target.spec.replicas }}${{ vars.ceiling }}", CONTEXT) == "310"


def test_label_text_is_never_evaluated() -> None:
    # An alert label that looks like an expression stays data: no injection.
    assert resolve_value("${{ alert.labels.evil }}", CONTEXT) == "${{ 1 + 1 }}"
    assert resolve_value("x ${{ alert.labels.evil }} y", CONTEXT) == "x ${{ 1 + 1 }} y"


def test_missing_key_names_the_expression() -> None:
    with pytest.raises(ExpressionError, match=r"no such key 'nope' in expression 'alert.labels.nope'"):
        resolve_value("${{ alert.labels.nope }}", CONTEXT)


def test_syntax_error_names_the_column() -> None:
    with pytest.raises(ExpressionError, match="CEL does not compile \\(column 4"):
        evaluate_bool("a +", CONTEXT)


def test_guard_must_be_boolean() -> None:
    with pytest.raises(ExpressionError, match="expected true or false, got int 3"):
        evaluate_bool("target.spec.replicas", CONTEXT)
    assert evaluate_bool("target.spec.replicas < vars.ceiling", CONTEXT) is True


def test_roots_exclude_comprehension_variables() -> None:
    assert referenced_roots("[1, 2].exists(x, x > vars.ceiling) && alert.labels.pod != ''") == {"vars", "alert"}


OBJ = {
    "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"containers": [{"name": "main", "image": "nginx"}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Other", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.containers[0].image", "nginx"),
        ("status.conditions[type=Ready].status", "True"),
        ("status.conditions[type=Other].status", "False"),
        ("status.conditions[type=Missing].status", None),
        ("spec.containers[3].image", None),
        ("metadata.labels.app", None),
    ],
)
def test_get_path(path: str, expected: object) -> None:
    assert get_path(OBJ, path) == expected


def test_bad_path_is_an_error() -> None:
    with pytest.raises(PathError, match="cannot parse field path"):
        parse_path("status.conditions[")
