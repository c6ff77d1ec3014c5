"""The chart's ServiceMonitor, PrometheusRule and Grafana dashboard: they render, their PromQL parses
(promtool), names only metrics and labels suture.metrics exports, and the alerts fire when they should
(promtool test rules)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import suture.metrics
from tests.chart.helm import documents, find, template

ENABLED = (
    "metrics.serviceMonitor.enabled=true",
    "metrics.prometheusRule.enabled=true",
    "metrics.dashboard.enabled=true",
)
# Labels Prometheus adds to every scraped series (target labels of a ServiceMonitor), and histograms' own.
TARGET_LABELS = {"namespace", "job", "instance", "pod", "service", "endpoint", "container", "le"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def _exported() -> dict[str, set[str]]:
    """Every series name suture.metrics exports, with its label names."""
    labels = {m._name: set(m._labelnames) for m in vars(suture.metrics).values() if isinstance(m, MetricWrapperBase)}
    series: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        if family.name in labels:
            for suffix in SUFFIXES[family.type]:
                series[family.name + suffix] = labels[family.name]
    return series


def _rendered() -> list[dict[str, Any]]:
    return documents(template(None, *ENABLED, namespace="mon"))


def _rule_exprs() -> list[str]:
    (rule,) = find(_rendered(), "PrometheusRule")
    return [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]


def _dashboard() -> dict[str, Any]:
    (cm,) = [d for d in find(_rendered(), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    dashboard: dict[str, Any] = json.loads(cm["data"]["suture.json"])
    return dashboard


def _dashboard_exprs() -> list[str]:
    return [t["expr"] for panel in _dashboard()["panels"] for t in panel["targets"]]


def test_nothing_is_rendered_unless_enabled() -> None:
    docs = documents(template())
    assert not find(docs, "ServiceMonitor")
    assert not find(docs, "PrometheusRule")
    assert not [d for d in find(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]


def test_service_monitor_scrapes_the_service_port() -> None:
    docs = _rendered()
    (monitor,) = find(docs, "ServiceMonitor")
    (service,) = find(docs, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [
        {"port": service["spec"]["ports"][0]["name"], "path": "/metrics", "interval": "30s"}
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["mon"]}


def test_alerts_cover_what_the_issue_asks() -> None:
    (rule,) = find(_rendered(), "PrometheusRule")
    names = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    for wanted in (
        "SutureWebhookErrors",
        "SutureRunsFailing",
        "SutureTemplateIneffective",
        "SutureApprovalsWaiting",
        "SutureNoLeader",
    ):
        assert wanted in names


def test_dashboard_is_valid_json_with_the_panels_asked_for() -> None:
    dashboard = _dashboard()
    titles = " / ".join(p["title"] for p in dashboard["panels"])
    for topic in ("Alerts in", "by phase", "Effective", "Step latency", "queued", "Approvals"):
        assert topic in titles, titles
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in dashboard["panels"])
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_query_names_only_exported_metrics_and_labels(source: str) -> None:
    exported = _exported()
    assert "suture_runs_finished_total" in exported
    assert "suture_step_duration_seconds_bucket" in exported
    exprs = _rule_exprs() if source == "rules" else _dashboard_exprs()
    assert exprs
    for expr in exprs:
        names = set(re.findall(r"\bsuture_[a-z0-9_]+", expr))
        assert names, expr
        unknown = names - exported.keys()
        assert not unknown, f"{expr!r} names metrics suture.metrics does not export: {sorted(unknown)}"
        known = set().union(*(exported[n] for n in names)) | TARGET_LABELS
        for name, matchers in re.findall(r"\b(suture_[a-z0-9_]+)\{([^}]*)\}", expr):
            used = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
            assert used <= exported[name] | TARGET_LABELS, (
                f"{name} has no label {sorted(used - exported[name])}: {expr!r}"
            )
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            used = {label.strip() for label in group.split(",")}
            assert used <= known, f"grouping by {sorted(used - known)} that no metric of {expr!r} has"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run `make debian-packages` (Debian's prometheus package)"
    return path


def test_promql_parses(tmp_path: Path) -> None:
    (rule,) = find(_rendered(), "PrometheusRule")
    rules = tmp_path / "alerts.yaml"
    rules.write_text(yaml.safe_dump(rule["spec"]))
    # The dashboard's queries as recording rules, Grafana's variables given plain values.
    grafana = {"$__rate_interval": "5m", "$namespace": ".*"}
    recorded = []
    for i, expr in enumerate(_dashboard_exprs()):
        for var, value in grafana.items():
            expr = expr.replace(var, value)
        recorded.append({"record": f"suture:dashboard_{i}", "expr": expr})
    panels = tmp_path / "dashboard.yaml"
    panels.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    proc = subprocess.run([_promtool(), "check", "rules", str(rules), str(panels)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alerts_fire_when_they_should(tmp_path: Path) -> None:
    """promtool runs the rules over made-up series: each alert fires on its symptom, not without it."""
    (rule,) = find(_rendered(), "PrometheusRule")
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            r.pop("annotations", None)  # promtool compares annotations too; what is tested here is when they fire
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rule["spec"]))
    ns = 'namespace="mon"'
    tests = {
        "rule_files": ["alerts.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'suture_leader{{{ns},pod="a"}}', "values": "0x20"},
                    {"series": f"suture_runs_waiting_approval{{{ns}}}", "values": "1x40"},
                    {"series": f'suture_webhook_request_duration_seconds_count{{{ns},code="503"}}', "values": "0+5x20"},
                    {"series": f'suture_webhook_request_duration_seconds_count{{{ns},code="200"}}', "values": "0+5x20"},
                    {"series": f'suture_runs_finished_total{{{ns},template="bad",phase="Failed"}}', "values": "0+1x20"},
                    {
                        "series": f'suture_runs_finished_total{{{ns},template="good",phase="Succeeded"}}',
                        "values": "0+1x20",
                    },
                    {
                        "series": f'suture_verifications_total{{{ns},template="bad",outcome="Ineffective"}}',
                        "values": "0+1x20",
                    },
                    {
                        "series": f'suture_verifications_total{{{ns},template="good",outcome="Effective"}}',
                        "values": "0+1x20",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "SutureNoLeader", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "SutureNoLeader",
                        "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                    },
                    {
                        "eval_time": "15m",
                        "alertname": "SutureWebhookErrors",
                        "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                    },
                    {"eval_time": "15m", "alertname": "SutureWebhookRejected", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "SutureRunsFailing",
                        "exp_alerts": [{"exp_labels": {"severity": "warning", "template": "bad"}}],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "SutureTemplateIneffective",
                        "exp_alerts": [{"exp_labels": {"severity": "warning", "template": "bad"}}],
                    },
                    {"eval_time": "20m", "alertname": "SutureApprovalsWaiting", "exp_alerts": []},
                    {
                        "eval_time": "35m",
                        "alertname": "SutureApprovalsWaiting",
                        "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    proc = subprocess.run([_promtool(), "test", "rules", "tests.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
