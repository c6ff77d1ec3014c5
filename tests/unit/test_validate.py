"""``suture validate``: every mistake found, named by field, in plain words."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.actions import Registry, load_registry
from suture.cli import main
from suture.validation import validate_object

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def template(**spec_overrides: Any) -> dict[str, Any]:
    """A small valid namespaced template."""
    doc: dict[str, Any] = {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "scale-up", "namespace": "shop"},
        "spec": {
            "match": {"alertNames": ["HighLoad"]},
            "target": {"kind": "Deployment", "namespace": "${{ alert.labels.namespace }}", "name": "web"},
            "steps": [
                {
                    "name": "check",
                    "condition": {"check": {"expression": "target.spec.replicas < 10"}, "then": "scale", "else": "end"},
                },
                {
                    "name": "scale",
                    "action": {"name": "scale_deployment", "params": {"replicas": "${{ target.spec.replicas + 1 }}"}},
                },
                {"name": "settle", "wait": {"duration": "30s"}},
            ],
        },
    }
    doc["spec"].update(spec_overrides)
    return doc


def messages(doc: dict[str, Any], registry: Registry) -> list[str]:
    return [f"{p.path}: {p.message}" for p in validate_object(doc, registry) if p.severity == "error"]


def test_valid_template_has_no_problems(registry: Registry) -> None:
    assert validate_object(template(), registry) == []


def _mutate(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = template()
    fn(doc)
    return doc


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = doc["spec"]["steps"]
    return steps


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("negative retry", lambda d: _steps(d)[1].update(retry={"limit": -1}), "spec.steps[1].retry.limit: must be >= 0"),
    ("unknown field", lambda d: _steps(d)[1].update(retries=3), "spec.steps[1].retries: is not a known field"),
    (
        "two kinds in one step",
        lambda d: _steps(d)[2].update(approval={}),
        "spec.steps[2]: a step sets exactly one of action, condition, parallel, wait, approval, rollout, foreach, "
        "subflow (got wait, approval)",
    ),
    (
        "bad duration",
        lambda d: _steps(d)[2].update(wait={"duration": "30 seconds"}),
        "spec.steps[2].wait.duration: does not match the required pattern",
    ),
    ("duplicate name", lambda d: _steps(d)[2].update(name="scale"), "spec.steps[2].name: duplicate step name 'scale'"),
    (
        "dangling next",
        lambda d: _steps(d)[1].update(next="nowhere"),
        "spec.steps[1].next: no step named 'nowhere' (steps: check, scale, settle)",
    ),
    (
        "dangling else",
        lambda d: _steps(d)[0]["condition"].update({"else": "gone"}),
        "spec.steps[0].condition.else: no step named 'gone'",
    ),
    (
        "loop",
        lambda d: _steps(d)[2].update(next="check"),
        "spec.steps: the flow loops: check -> scale -> settle -> check",
    ),
    (
        "unreachable",
        lambda d: _steps(d)[1].update(next="end"),
        "spec.steps[2]: step 'settle' is unreachable: no path from the first step",
    ),
    (
        "approval inside a foreach",
        lambda d: d["spec"].update(
            steps=[
                {"name": "each", "foreach": {"items": "${{ [1, 2] }}", "step": "ask"}},
                {"name": "ask", "approval": {"message": "this one?"}},
            ]
        ),
        "spec.steps[1].approval: step 'ask' runs inside 'each', and approvals cannot run inside parallel or foreach",
    ),
    (
        "unknown action",
        lambda d: _steps(d)[1]["action"].update(name="scale_deploymnt"),
        "spec.steps[1].action.name: unknown action 'scale_deploymnt'",
    ),
    (
        "bad action params",
        lambda d: _steps(d)[1]["action"].update(params={"replicas": -2}),
        "spec.steps[1].action.params.replicas: must be >= 0",
    ),
    (
        "unknown action param",
        lambda d: _steps(d)[1]["action"]["params"].update(replica=2),
        "spec.steps[1].action.params.replica: is not a known field",
    ),
    (
        "CEL syntax",
        lambda d: _steps(d)[1].update(when="target.spec.replicas <"),
        "spec.steps[1].when: CEL does not compile (column 23",
    ),
    (
        "unknown root",
        lambda d: _steps(d)[1].update(when="labels.pod == 'x'"),
        "spec.steps[1].when: unknown name 'labels' in \"labels.pod == 'x'\" (known roots: alert, run, steps,",
    ),
    (
        "item outside foreach",
        lambda d: _steps(d)[1]["action"]["params"].update(name="${{ item.metadata.name }}"),
        "item exists only inside a foreach step or a rollout action",
    ),
    (
        "namespace escape",
        lambda d: d["spec"]["target"].update(namespace="payments"),
        "spec.target.namespace: 'payments' is outside the template's namespace 'shop'",
    ),
    (
        "node from namespaced",
        lambda d: d["spec"].update(target={"kind": "Node", "name": "n1"}),
        "spec.target: a namespaced WorkflowTemplate cannot act on Node; use a ClusterWorkflowTemplate",
    ),
    (
        "param namespace escape",
        lambda d: _steps(d)[1]["action"]["params"].update(namespace="payments"),
        "spec.steps[1].action.params.namespace: 'payments' is outside the template's namespace 'shop'",
    ),
    (
        "step timeout too long",
        lambda d: _steps(d)[1].update(timeout="2h"),
        "spec.steps[1].timeout: 2h is longer than the workflow timeout 1h",
    ),
    ("reserved name", lambda d: _steps(d)[2].update(name="end"), "spec.steps[2].name: 'end' is reserved"),
    (
        "self reference",
        lambda d: _steps(d)[1].update(next="scale"),
        "spec.steps[1].next: a step cannot refer to itself",
    ),
    (
        "parallel owns itself",
        lambda d: _steps(d).append({"name": "both", "parallel": {"steps": ["both", "scale"]}}),
        "spec.steps[3].parallel.steps[0]: a step cannot refer to itself",
    ),
    (
        "jump into a parallel branch",
        lambda d: (
            _steps(d).extend(
                [
                    {"name": "par", "parallel": {"steps": ["a", "b"]}},
                    {"name": "a", "wait": {"duration": "1s"}},
                    {"name": "b", "wait": {"duration": "1s"}},
                ]
            )
            or _steps(d)[2].update(next="a")
        ),
        "spec.steps[2].next: 'a' runs only inside 'par'; jump to 'par' instead",
    ),
    (
        "bad field path",
        lambda d: _steps(d)[0]["condition"].update(check={"resource": {"field": "status.conditions["}}),
        "spec.steps[0].condition.check.resource.field: cannot parse field path",
    ),
    (
        "waves not ending at 100",
        lambda d: _steps(d).append(
            {
                "name": "wave",
                "rollout": {
                    "targets": {"kind": "Deployment", "selector": {}},
                    "waves": [10, 50],
                    "action": {"name": "scale_deployment"},
                },
            }
        ),
        "spec.steps[3].rollout: waves are percentages from 1 to 100 and the last wave must be 100",
    ),
    ("not a Suture kind", lambda d: d.update(kind="Deployment"), "kind: 'Deployment' is not a Suture kind"),
]


@pytest.mark.parametrize(("label", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_named(
    registry: Registry, label: str, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    found = messages(_mutate(mutate), registry)
    assert any(expected in m for m in found), f"{label}: expected {expected!r} in {found}"


def test_irreversible_risky_action_with_rollback_is_flagged(registry: Registry) -> None:
    # scale_* are reversible, so no complaint: rollback can undo them.
    doc = template()
    _steps(doc)[1]["onFailure"] = "rollback"
    assert messages(doc, registry) == []


def test_example_templates_are_all_valid(registry: Registry) -> None:
    from suture.validation import validate_paths

    report = validate_paths([str(REPO / "examples" / "templates")], registry)
    assert report.documents >= 8
    assert report.problems == [], [p.render() for p in report.problems]


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(template()))
    bad_doc = copy.deepcopy(template())
    bad_doc["spec"]["steps"][1]["retry"] = {"limit": -1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(template()) + "---\n" + yaml.safe_dump(bad_doc))

    assert main(["validate", str(good)]) == 0
    assert "1 document(s) checked, 0 error(s): all valid" in capsys.readouterr().out

    assert main(["validate", str(bad), "--output", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["documents"] == 2
    [error] = report["errors"]
    assert error["document"] == 2
    assert error["path"] == "spec.steps[1].retry.limit"
    assert error["resource"] == "WorkflowTemplate/scale-up"


def test_cli_reads_stdin_and_reports_yaml_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("kind: WorkflowTemplate\nspec: [unclosed\n"))
    assert main(["validate", "-"]) == 1
    out = capsys.readouterr().out
    assert "-#1: not valid YAML: line" in out


def test_missing_file_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/templates.yaml"]) == 1
    assert "no such file or directory" in capsys.readouterr().out


def test_valid_condition_lists_errors(registry: Registry) -> None:
    from suture.validation import valid_condition

    doc = template()
    _steps(doc)[1]["next"] = "nowhere"
    cond = valid_condition(validate_object(doc, registry), generation=3)
    assert (cond.type, cond.status, cond.reason, cond.observed_generation) == ("Valid", "False", "Invalid", 3)
    assert "spec.steps[1].next: no step named 'nowhere'" in cond.message
    ok = valid_condition(validate_object(template(), registry), generation=4)
    assert (ok.status, ok.reason) == ("True", "Validated")


def test_irreversible_action_before_a_rollback_step_is_an_error(registry: Registry) -> None:
    doc = template()
    _steps(doc).insert(0, {"name": "kick", "action": {"name": "restart_pod", "params": {"name": "web-1"}}})
    _steps(doc)[2]["onFailure"] = "rollback"  # scale, after kick
    found = messages(doc, registry)
    assert any("spec.steps[0].action.name: restart_pod cannot be undone, but step(s) scale ask" in m for m in found)


def test_irreversible_action_on_another_branch_is_fine(registry: Registry) -> None:
    doc = template()
    # check -> then: scale (rollback on failure) | else: kick (irreversible) -> end
    _steps(doc)[0]["condition"]["else"] = "kick"
    _steps(doc)[1]["onFailure"] = "rollback"
    _steps(doc)[1]["next"] = "settle"
    _steps(doc).append({"name": "kick", "action": {"name": "restart_pod", "params": {"name": "web-1"}}, "next": "end"})
    assert messages(doc, registry) == []
