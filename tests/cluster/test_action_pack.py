"""The example third-party action pack (examples/action-pack), followed as docs/action-packs.md says:
pip-installed, listed by `suture actions list`, its RBAC generated into the chart, and its action run
in a template on the local control plane by `suture run` holding only that chart's RBAC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.chart.helm import CHART, documents, find, helm
from tests.cluster.chart_install import installed_chart
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import REPO, wait_for

pytestmark = pytest.mark.long  # `make test-chart`

PACK = REPO / "examples" / "action-pack"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def pack_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The pack pip-installed into a directory of its own (with its entry points); put on PYTHONPATH.

    A target directory rather than the project's virtualenv, so the other tests see only the built-in pack.
    """
    target = tmp_path_factory.mktemp("pack")
    subprocess.run(
        [str(BIN / "pip"), "install", "--quiet", "--no-deps", "--target", str(target), str(PACK)], check=True
    )
    return str(target)


def _env(pack_path: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [pack_path, os.environ.get("PYTHONPATH")]))}


def test_suture_actions_list_shows_the_pack(pack_path: str) -> None:
    out = subprocess.run(
        [str(BIN / "suture"), "actions", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(pack_path),
    ).stdout
    listed = {a["name"]: a for a in json.loads(out)["actions"]}
    quota = listed["raise_quota"]
    assert quota["pack"] == "quota"
    assert quota["risk"] == "low"
    assert quota["reversible"] is True
    assert quota["rbac"] == [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get", "patch"]}]
    assert "scale_deployment" in listed  # the built-in pack is still there


@pytest.fixture(scope="module")
def pack_chart(pack_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chart whose generated RBAC file knows the installed pack (`make chart` where it is installed)."""
    chart = tmp_path_factory.mktemp("chart") / "suture"
    shutil.copytree(CHART, chart)
    subprocess.run(
        [sys.executable, str(REPO / "hack" / "chart-rbac.py"), "--output", str(chart / "files" / "rbac-rules.yaml")],
        check=True,
        env=_env(pack_path),
        capture_output=True,
    )
    return chart


def test_the_pack_rbac_appears_in_the_rendered_chart(pack_chart: Path, pack_path: str) -> None:
    rendered = helm("template", "suture", str(pack_chart), "--set", "actions.enabled={raise_quota}").stdout
    (role,) = find(documents(rendered), "ClusterRole")
    assert role["metadata"]["annotations"]["suture.dev/actions"] == "raise_quota"
    cli = subprocess.run(
        [str(BIN / "suture"), "rbac", "--actions", "raise_quota"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(pack_path),
    ).stdout
    (expected,) = [d for d in yaml.safe_load_all(cli) if d["kind"] == "ClusterRole"]
    assert role["rules"] == expected["rules"]
    assert any("resourcequotas" in r["resources"] and "patch" in r["verbs"] for r in role["rules"])
    # The chart without the pack knows nothing of it.
    plain = helm("template", "suture", str(CHART), "--set", "actions.enabled={raise_quota}", check=False)
    assert plain.returncode != 0
    assert 'unknown action "raise_quota"' in plain.stderr


@pytest.fixture
async def quota_namespace(kube: KubeClient, namespace: str) -> str:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": "10", "services": "4"}},
    }
    await kube.create("ResourceQuota", quota, namespace, api_version="v1")
    return namespace


async def test_the_pack_action_runs_in_a_template_with_the_charts_rbac(
    pack_chart: Path,
    pack_path: str,
    kube: KubeClient,
    kubeconfig: str,
    quota_namespace: str,
    tmp_path: Path,
    suture_crds: list[str],
) -> None:
    ns = quota_namespace
    template = yaml.safe_load((PACK / "template.yaml").read_text())
    template["metadata"]["namespace"] = ns
    await kube.create("WorkflowTemplate", template, ns, api_version=API_VERSION)
    async with installed_chart(kube, kubeconfig, tmp_path, "actions.enabled={raise_quota}", chart=pack_chart) as inst:
        operator = OperatorProcess(
            inst.kubeconfig,
            tmp_path,
            ns,
            SUTURE_HOME_NAMESPACE=inst.namespace,
            PYTHONPATH=_env(pack_path)["PYTHONPATH"],
        )
        await operator.start()
        try:
            alert = {
                "name": "KubeQuotaAlmostFull",
                "labels": {"namespace": ns, "resourcequota": "compute", "resource": "pods"},
            }
            body: dict[str, Any] = {
                "apiVersion": API_VERSION,
                "kind": "Remediation",
                "metadata": {"name": "quota"},
                "spec": {"templateRef": {"name": "quota-almost-full"}, "alert": alert},
            }
            await kube.create("Remediation", body, ns, api_version=API_VERSION)

            async def finished() -> dict[str, Any] | None:
                got = await kube.get("Remediation", "quota", ns, api_version=API_VERSION)
                status = got.get("status") or {}
                return status if status.get("phase") in ("Succeeded", "Verifying", "Failed", "RolledBack") else None

            status = await wait_for(finished, timeout=90, what="the pack's run")
            assert status["phase"] in ("Succeeded", "Verifying"), (status, operator.output()[-3000:])
        finally:
            await operator.kill(signal.SIGTERM)
    quota = await kube.get("ResourceQuota", "compute", ns, api_version="v1")
    assert quota["spec"]["hard"] == {"pods": "15", "services": "4"}
    (step,) = status["steps"]
    assert step["message"] == f"set ResourceQuota {ns}/compute pods from 10 to 15"
    assert "Forbidden" not in operator.output()
