"""Hostile template files: `suture validate` (and the operator's check) reports, never crashes, never evaluates."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suture.actions import Registry, load_registry
from suture.validation import parse_template, validate_object, validate_paths

HOSTILE = [
    "$(rm -rf /)",
    "`id`",
    "; curl http://169.254.169.254/",
    "../../../etc/passwd",
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
    "${{ 1/0 }}",
    "${{ alert.labels.x }}",
    "{{ .Values.secret }}",
    "size(x) > 0 || true",
    "has(self.x)",
    "\x00\u202e",
    "a" * 100_000,
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def _validate_text(data: bytes, registry: Registry) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        path.write_bytes(data)
        return [p.message for p in validate_paths([str(path)], registry).errors]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_any_bytes_are_reported_never_a_crash(registry: Registry, data: bytes) -> None:
    _validate_text(data, registry)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20_000 + "]" * 20_000,
        "a: " + "{b: " * 5_000 + "1" + "}" * 5_000,
        "spec:\n  steps:\n" + "".join(f"{'  ' * (i + 2)}- \n" for i in range(3_000)),
    ],
    ids=["deep-list", "deep-map", "deep-block"],
)
def test_deep_nesting_is_a_problem_not_a_crash(registry: Registry, text: str) -> None:
    errors = _validate_text(text.encode(), registry)
    assert errors


def test_deep_nesting_inside_a_parsed_object_is_a_problem_not_a_crash(registry: Registry) -> None:
    params: dict[str, Any] = {}
    inner = params
    for _ in range(5_000):  # as the operator would receive it from the API server
        inner["x"] = {}
        inner = inner["x"]
    doc = {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "deep"},
        "spec": {"steps": [{"name": "a", "action": {"name": "annotate", "params": params}}]},
    }
    assert validate_object(doc, registry)
    _model, problems = parse_template(doc, registry)
    assert problems


def test_a_key_given_twice_is_refused(registry: Registry) -> None:
    text = "apiVersion: suture.dev/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: a}\nmetadata: {name: b}\n"
    assert any("duplicate key 'metadata'" in e for e in _validate_text(text.encode(), registry))


def test_a_non_utf8_file_is_reported(registry: Registry) -> None:
    assert any("cannot read" in e for e in _validate_text(b"\xff\xfekind: x", registry))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.sampled_from(HOSTILE) | st.text(max_size=200), key=st.sampled_from(HOSTILE[:6]) | st.just("app"))
def test_hostile_strings_in_match_labels_and_descriptions_are_data(registry: Registry, value: str, key: str) -> None:
    doc = {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "hostile"},
        "spec": {
            "description": value,
            "match": {"alertNames": ["X"], "labels": {key: value}},
            "steps": [{"name": "look", "wait": {"duration": "1s"}}],
        },
    }
    problems = validate_object(doc, registry)
    # Reported or accepted, never run: the only way a value is evaluated is an expression field, and these are not.
    assert all(isinstance(p.message, str) for p in problems)
    json.dumps([p.as_dict() for p in problems])  # the report renders whatever the value was
