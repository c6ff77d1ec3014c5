"""The demo's monitoring stack on loopback: the ksm stand-in, Prometheus, Alertmanager and `suture run`.

Every process is started in its own session with its pid recorded under
``state/pids/``; :func:`stop` signals only those pids, and only while their
command line is still the one recorded (a stale pid file may name another
process by now). Configuration files are written into ``state`` from the
rules in ``examples/demo/``, so the demo and its end-to-end test run the same.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "examples" / "demo" / "prometheus-rules.yaml"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
ORDER = ("ksm", "alertmanager", "prometheus", "suture")  # stopped in reverse: nothing left to alert on a stopped part


@dataclass(frozen=True)
class Ports:
    suture: int = 18080
    ksm: int = 18081
    prometheus: int = 19090
    alertmanager: int = 19093


@dataclass
class Stack:
    """What to start, where its state lives, and how to reach each part."""

    state: Path
    kubeconfig: str
    ports: Ports = field(default_factory=Ports)
    namespaces: tuple[str, ...] = ()
    """Namespaces `suture run` watches (empty: all)."""
    home_namespace: str = "default"
    """Where Remediations of ClusterWorkflowTemplates live."""
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    @property
    def suture_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.suture}"

    @property
    def ksm_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ksm}"

    @property
    def token_file(self) -> Path:
        return self.state / "webhook-token"

    def log(self, name: str) -> Path:
        return self.state / f"{name}.log"

    # -- configuration ----------------------------------------------------------------------------

    def write_configs(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        if not self.token_file.exists():
            self.token_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.token_file.chmod(0o600)
        shutil.copyfile(RULES, self.state / "rules.yaml")
        prometheus = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(self.state / "rules.yaml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.ports.alertmanager}"]}]}]
            },
            "scrape_configs": [
                {
                    # The job name is the selector kube-prometheus' rules use.
                    "job_name": "kube-state-metrics",
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{self.ports.ksm}"]}],
                },
                {"job_name": "suture", "static_configs": [{"targets": [f"127.0.0.1:{self.ports.suture}"]}]},
            ],
        }
        (self.state / "prometheus.yml").write_text(yaml.safe_dump(prometheus, sort_keys=False))
        alertmanager = {
            "route": {
                "receiver": "suture",
                "group_by": ["alertname", "namespace"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "suture",
                    "webhook_configs": [
                        {
                            "url": f"{self.suture_url}/webhook/alertmanager",
                            "send_resolved": True,
                            "http_config": {"authorization": {"credentials_file": str(self.token_file)}},
                        }
                    ],
                }
            ],
        }
        (self.state / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager, sort_keys=False))

    def commands(self) -> dict[str, list[str]]:
        s = self.state
        suture = [sys.executable, "-m", "suture.cli", "run"]
        for namespace in self.namespaces:
            suture += ["--namespace", namespace]
        return {
            "ksm": [
                sys.executable,
                "-m",
                "suture.demo.ksm",
                "--kubeconfig",
                self.kubeconfig,
                "--port",
                str(self.ports.ksm),
            ],
            "alertmanager": [
                ALERTMANAGER,
                f"--config.file={s / 'alertmanager.yml'}",
                f"--storage.path={s / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{self.ports.alertmanager}",
                "--cluster.listen-address=",  # no gossip (it would listen on 0.0.0.0:9094)
                f"--web.external-url={self.alertmanager_url}",
            ],
            "prometheus": [
                PROMETHEUS,
                f"--config.file={s / 'prometheus.yml'}",
                f"--storage.tsdb.path={s / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                f"--web.external-url={self.prometheus_url}",
                "--scrape.discovery-reload-interval=100ms",  # targets picked up at once, not after 5 s
            ],
            "suture": suture,
        }

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": self.kubeconfig,
            "SUTURE_DATA_DIR": str(self.state / "suture-data"),
            "SUTURE_PORT": str(self.ports.suture),
            "SUTURE_LISTEN_ADDRESS": "127.0.0.1",
            "SUTURE_WEBHOOK_TOKEN_FILE": str(self.token_file),
            "SUTURE_ALERTMANAGER_URL": self.alertmanager_url,
            "SUTURE_VERIFY_INTERVAL": "1",
            "SUTURE_HOME_NAMESPACE": self.home_namespace,
            **self.extra_env,
        }

    # -- processes --------------------------------------------------------------------------------

    def start(self, *, timeout: float = 60.0) -> None:
        """Start every part (stopping a previous one first), then wait until each answers."""
        stop(self.state)
        self.write_configs()
        (self.state / "suture-data").mkdir(exist_ok=True)
        pids = self.state / "pids"
        pids.mkdir(exist_ok=True)
        commands, env = self.commands(), self.environment()
        probes = {
            "ksm": f"{self.ksm_url}/metrics",
            "alertmanager": f"{self.alertmanager_url}/-/ready",
            "prometheus": f"{self.prometheus_url}/-/ready",
            "suture": f"{self.suture_url}/readyz",
        }
        started = {}
        for name in ORDER:  # all at once: each retries what it needs from the others
            with self.log(name).open("ab") as out:
                proc = subprocess.Popen(
                    commands[name], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            (pids / f"{name}.pid").write_text(f"{proc.pid}\n{' '.join(commands[name])}\n")
            started[name] = proc
        for name, proc in started.items():
            _wait_http(probes[name], timeout=timeout, what=f"{name} (log: {self.log(name)})", proc=proc)


def _wait_http(url: str, *, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f}s")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def stop(state: Path, *, grace: float = 10.0) -> list[str]:
    """Stop the processes recorded under ``state/pids`` (SIGTERM, then SIGKILL after ``grace``); names stopped."""
    pids = state / "pids"
    stopped: list[str] = []
    for name in reversed(ORDER):
        record = pids / f"{name}.pid"
        if not record.exists():
            continue
        pid_text, _, command = record.read_text().partition("\n")
        record.unlink()
        pid = int(pid_text)
        if _cmdline(pid) != command.strip():
            continue  # gone, or the pid now belongs to someone else
        with contextlib.suppress(ProcessLookupError):  # it may exit between the check and the signal
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _cmdline(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    return stopped
