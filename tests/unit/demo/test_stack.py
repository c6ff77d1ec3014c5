"""The demo's stack: its templates validate, its configs route to Suture, and it stops only the pids it started."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from suture.actions import load_registry
from suture.demo.stack import REPO, RULES, Ports, Stack, stop
from suture.validation import validate_paths


def test_demo_templates_are_valid() -> None:
    report = validate_paths([str(REPO / "examples" / "demo" / "templates")], load_registry())
    assert report.documents == 3
    assert report.problems == [], [p.render() for p in report.problems]


def test_rules_shorten_only_for_and_say_so() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert set(alerts) == {"KubePodCrashLooping", "KubeNodeNotReady", "KubeNodePressure", "KubeContainerOOMKilled"}
    assert all(rule["for"] == "5s" for rule in alerts.values())
    assert 'job="kube-state-metrics"' in alerts["KubeNodePressure"]["expr"]


def test_configs_route_alerts_to_suture_with_the_token_and_resolved_notifications(tmp_path: Path) -> None:
    stack = Stack(state=tmp_path, kubeconfig="kc", ports=Ports(suture=1, ksm=2, prometheus=3, alertmanager=4))
    stack.write_configs()
    am = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    assert am["route"]["group_wait"] == "0s"
    (hook,) = am["receivers"][0]["webhook_configs"]
    assert hook == {
        "url": "http://127.0.0.1:1/webhook/alertmanager",
        "send_resolved": True,
        "http_config": {"authorization": {"credentials_file": str(tmp_path / "webhook-token")}},
    }
    prom = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    assert prom["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert prom["scrape_configs"][0]["job_name"] == "kube-state-metrics"
    assert prom["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:2"]}]
    assert stack.environment()["SUTURE_ALERTMANAGER_URL"] == "http://127.0.0.1:4"


def test_stop_signals_only_a_recorded_pid_that_still_runs_the_recorded_command(tmp_path: Path) -> None:
    (tmp_path / "pids").mkdir()
    ours = subprocess.Popen(["sleep", "30"])
    other = subprocess.Popen(["sleep", "31"])
    # Popen returns once the child is forked, maybe before it has exec'd sleep: until then its command
    # line is this Python's, and stop() rightly leaves it alone. Wait for the exec.
    for child in (ours, other):
        cmdline = Path(f"/proc/{child.pid}/cmdline")
        for _ in range(500):
            if cmdline.read_bytes().startswith(b"sleep"):
                break
            time.sleep(0.01)
    try:
        (tmp_path / "pids" / "ksm.pid").write_text(f"{ours.pid}\nsleep 30\n")
        (tmp_path / "pids" / "suture.pid").write_text(f"{other.pid}\nsomething else\n")  # pid reused by another
        assert stop(tmp_path) == ["ksm"]
        assert ours.wait(timeout=5) == -15
        time.sleep(0.1)
        assert other.poll() is None
        assert not list((tmp_path / "pids").iterdir())
    finally:
        other.kill()
        other.wait()
