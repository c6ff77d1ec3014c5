"""`suture run`'s receiver flags: documented with their environment variables, and winning over them."""

from __future__ import annotations

import os

import pytest

from suture import cli


def test_help_names_every_flag_with_its_environment_variable_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, env, default, _ in cli._RUN_FLAGS:
        assert flag in text
        assert f"env {env}, default {default}" in text
    assert "env SUTURE_INSECURE_WEBHOOK, default off" in text


def test_flags_win_over_the_environment_and_leave_it_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUTURE_PORT", "9000")
    monkeypatch.delenv("SUTURE_LISTEN_ADDRESS", raising=False)
    args = cli.build_parser().parse_args(
        ["run", "--port", "9100", "--listen-address", "127.0.0.1", "-n", "a", "-n", "b"]
    )
    settings = cli._settings_with(cli._run_environment(args))
    assert (settings.port, settings.listen_address, settings.namespaces) == (9100, "127.0.0.1", ("a", "b"))
    assert os.environ["SUTURE_PORT"] == "9000"
    assert "SUTURE_LISTEN_ADDRESS" not in os.environ


def test_the_old_metrics_port_variable_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    from suture.config import load_settings

    monkeypatch.delenv("SUTURE_PORT", raising=False)
    monkeypatch.setenv("SUTURE_METRICS_PORT", "9300")
    assert load_settings().port == 9300
    monkeypatch.setenv("SUTURE_PORT", "9400")
    assert load_settings().port == 9400
