"""``suture recommend``: ranks matching templates, learns from the data directory's history read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suture.cli import main
from suture.recommend import Recommender
from tests.unit.recommend.conftest import alert

REPO = Path(__file__).resolve().parents[3]
ALERT = REPO / "examples" / "alerts" / "kube-pod-crashlooping.json"


def ranking(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["recommend", "--alert", str(ALERT), "--output", "json", *argv]) == 0
    result: list[dict[str, object]] = json.loads(capsys.readouterr().out)["ranking"]
    return result


def test_only_templates_whose_match_admits_the_alert_are_ranked(capsys: pytest.CaptureFixture[str]) -> None:
    ranked = ranking(capsys, "--templates", str(REPO / "examples" / "templates"), "--no-history")
    assert [r["template"] for r in ranked] == ["pod-crashlooping"]


def test_history_in_the_data_directory_decides_the_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    writer = Recommender.open(data_dir=tmp_path)  # holds the lock, as a running operator would
    for i in range(4):
        writer.record_outcome(alert(pod=f"web-{i}"), "restart-pod", "Ineffective")
        writer.record_outcome(alert(pod=f"web-{i}"), "rollback", "Effective")
    ranked = ranking(capsys, "--candidate", "restart-pod", "--candidate", "rollback", "--data-dir", str(tmp_path))
    writer.close()
    assert [r["template"] for r in ranked] == ["rollback", "restart-pod"]
    assert ranked[0]["neighbours"]


def test_text_output_names_the_choice_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--alert", str(ALERT), "--candidate", "restart-pod", "--no-history"]) == 0
    out = capsys.readouterr().out
    assert "restart-pod" in out
    assert "why restart-pod:" in out


def test_no_candidate_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--alert", str(ALERT), "--no-history"]) == 1
    assert "no candidate" in capsys.readouterr().err


def test_a_file_without_an_alert_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("just: text\n")
    assert main(["recommend", "--alert", str(bad), "--candidate", "x"]) == 1
    assert "must hold an alert" in capsys.readouterr().err
