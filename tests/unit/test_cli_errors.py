"""Every CLI failure is one line on standard error and a non-zero exit code; -v adds the traceback.

The commands run through ``suture.cli.main`` against kubeconfigs that cannot
work: a missing file, a context that is not defined, none at all, a server on
a closed loopback port, and a stub API server that answers 404 or 403.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from suture.cli import main

# Each command that talks to the cluster, with the arguments it needs.
CLUSTER_COMMANDS = [
    ["status", "r1", "-n", "shop"],
    ["approve", "r1", "-n", "shop"],
    ["reject", "r1", "-n", "shop"],
    ["cancel", "r1", "-n", "shop"],
]


def _kubeconfig(path: Path, server: str, *, current: str | None = "ctx") -> Path:
    doc: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound once by us, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the developer's $KUBECONFIG, ~/.kube/config nor a pod's service account can leak in."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("argv", CLUSTER_COMMANDS, ids=lambda a: a[0])
def test_unreachable_api_server_is_named_with_its_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, closed_port: int, argv: list[str]
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{closed_port}")
    code, err = _run(capsys, [*argv, "--kubeconfig", str(config)])
    assert code == 1
    line = _one_line(err)
    assert f"API server unreachable at https://127.0.0.1:{closed_port}: connection refused" in line


@pytest.mark.parametrize("argv", CLUSTER_COMMANDS, ids=lambda a: a[0])
def test_missing_kubeconfig_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, err = _run(capsys, [*argv, "--kubeconfig", str(missing)])
    assert code == 1
    assert _one_line(err) == f"error: no kubeconfig found: {missing} (from --kubeconfig) does not exist"


def test_missing_kubeconfig_from_the_environment_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "a.yaml"))
    code, err = _run(capsys, ["status", "r1"])
    assert code == 1
    assert "no kubeconfig found" in _one_line(err)
    assert "(from $KUBECONFIG)" in err


def test_no_kubeconfig_at_all_says_where_it_looked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(capsys, ["status", "r1"])
    assert code == 1
    line = _one_line(err)
    assert "no kubeconfig found: --kubeconfig not given, $KUBECONFIG not set" in line
    assert str(tmp_path / "home" / ".kube" / "config") in line


def test_unknown_context_is_named_with_the_known_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1", current="prod")
    code, err = _run(capsys, ["approve", "r1", "--kubeconfig", str(config)])
    assert code == 1
    assert _one_line(err) == f"error: kubeconfig {config}: current context 'prod' is not defined (contexts: ctx)"


def test_kubeconfig_without_a_current_context_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1", current=None)
    code, err = _run(capsys, ["cancel", "r1", "--kubeconfig", str(config)])
    assert code == 1
    assert "sets no current context" in _one_line(err)


def test_verbose_adds_the_traceback_before_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, closed_port: int
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{closed_port}")
    code, err = _run(capsys, ["status", "r1", "--kubeconfig", str(config), "-v"])
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("error: API server unreachable")
    # The flag also works before the command.
    code, err = _run(capsys, ["-v", "status", "r1", "--kubeconfig", str(config)])
    assert code == 1
    assert "Traceback (most recent call last)" in err


@pytest.mark.timeout(60)
def test_run_without_a_usable_kubeconfig_exits_at_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, err = _run(capsys, ["run", "--insecure-webhook", "--kubeconfig", str(missing)])
    assert code == 1
    assert "no kubeconfig found" in _one_line(err)


@pytest.mark.timeout(60)
def test_run_against_an_unreachable_api_server_exits_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, closed_port: int
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{closed_port}")
    code, err = _run(capsys, ["run", "--insecure-webhook", "--kubeconfig", str(config)])
    assert code == 1
    assert f"unreachable at https://127.0.0.1:{closed_port}" in _one_line(err)


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request with the Kubernetes Status the server was built for."""

    status: dict[str, object] = {}

    def _answer(self) -> None:
        body = json.dumps(self.status).encode()
        self.send_response(int(str(self.status["code"])))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def refusing_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A stub API server on loopback answering every request with ``request.param`` (code, reason, message)."""
    code, reason, message = request.param
    handler = type(
        "Handler", (_Refusing,), {"status": {"kind": "Status", "code": code, "reason": reason, "message": message}}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


NOT_FOUND = (404, "NotFound", 'remediations.suture.dev "r1" not found')
FORBIDDEN = (403, "Forbidden", 'remediations.suture.dev "r1" is forbidden: User "u" cannot patch resource')


@pytest.mark.parametrize("refusing_server", [NOT_FOUND], indirect=True)
@pytest.mark.parametrize("argv", CLUSTER_COMMANDS, ids=lambda a: a[0])
def test_missing_remediation_is_not_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refusing_server: str, argv: list[str]
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", refusing_server)
    code, err = _run(capsys, [*argv, "--kubeconfig", str(config)])
    assert code == 1
    assert _one_line(err) == 'error: not found: remediations.suture.dev "r1" not found'


@pytest.mark.parametrize("refusing_server", [FORBIDDEN], indirect=True)
def test_forbidden_request_says_forbidden(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refusing_server: str
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", refusing_server)
    code, err = _run(capsys, ["approve", "r1", "--kubeconfig", str(config)])
    assert code == 1
    assert _one_line(err).startswith('error: forbidden: remediations.suture.dev "r1" is forbidden')
