"""Rendering the Helm chart with the helm that hack/build-tools.sh builds (``make tools``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

CHART = REPO / "charts" / "suture"
VALUES_FILES = {
    "default": None,
    "namespaced": CHART / "ci" / "namespaced-values.yaml",
    "ha": CHART / "ci" / "ha-values.yaml",
}


def helm_binary() -> str:
    out = subprocess.run(
        ["bash", "-c", f". {REPO}/hack/versions.sh && echo $SUTURE_BIN/helm-$HELM_VERSION/helm"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = out.stdout.strip()
    assert Path(path).is_file(), f"helm is not built at {path}: run `make tools`"
    return path


def helm(*args: str, check: bool = True, kubeconfig: str = os.devnull) -> subprocess.CompletedProcess[str]:
    """Run helm; it sees only the given kubeconfig (none by default), never the ambient one."""
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, check=False, env=env)
    if check:
        assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def value_args(values: Path | None, *sets: str) -> list[str]:
    args = ["-f", str(values)] if values else []
    for s in sets:
        args += ["--set", s]
    return args


def template(values: Path | None = None, *sets: str, namespace: str = "suture", crds: bool = False) -> str:
    extra = ["--include-crds"] if crds else []
    return helm("template", "suture", str(CHART), "-n", namespace, *extra, *value_args(values, *sets)).stdout


def documents(rendered: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(rendered) if d]


def find(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]
