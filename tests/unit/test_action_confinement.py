"""The built-in actions obey the one namespace rule and never read Secrets (through the in-memory API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment, node

registry = load_registry()


def _secret() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {}}


@pytest.mark.parametrize("action", ["get_resource", "collect_diagnostics"])
async def test_secrets_are_refused_before_anything_is_read(action: str) -> None:
    api = FakeKubeApi()
    api.add(_secret())
    params = {"kind": "Secret", "apiVersion": "v1", "namespace": "shop", "name": "db"}
    with pytest.raises(ActionError) as caught:
        await registry.invoke(action, params, ActionContext(kube=api.client()))
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "never reads Secrets" in str(caught.value)
    assert [r.path for r in api.requests if "/secrets" in r.path] == []


async def test_a_namespaced_template_cannot_read_a_node_through_diagnostics() -> None:
    api = FakeKubeApi()
    api.add(node("n1"))
    ctx = ActionContext(kube=api.client(), allowed_namespace="shop")
    with pytest.raises(ActionError) as caught:
        await registry.invoke("collect_diagnostics", {"kind": "Node", "namespace": "shop", "name": "n1"}, ctx)
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "cluster-scoped object is outside this template's namespace 'shop'" in str(caught.value)


async def test_the_templates_denied_namespaces_hold_for_every_action_call() -> None:
    api = FakeKubeApi()
    api.add(deployment("web", namespace="payments"))
    ctx = ActionContext(kube=api.client(), denied_namespaces=frozenset({"payments"}))
    with pytest.raises(ActionError) as caught:
        await registry.invoke("scale_deployment", {"namespace": "payments", "name": "web", "replicas": 5}, ctx)
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "deny namespace 'payments'" in str(caught.value)
    assert api.writes() == []
    allowed_only = ActionContext(kube=api.client(), permitted_namespaces=frozenset({"shop"}))
    with pytest.raises(ActionError, match="not among the template's allowed namespaces"):
        await registry.invoke("scale_deployment", {"namespace": "payments", "name": "web", "replicas": 5}, allowed_only)
    assert api.writes() == []


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"hostNetwork": True}, "hostNetwork: true"),
        ({"serviceAccountName": "cluster-admin-sa"}, "serviceAccountName: cluster-admin-sa"),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, "volume 'root' is a hostPath"),
        ({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]}, "'c' is privileged"),
    ],
)
async def test_run_job_refuses_pods_that_reach_beyond_their_namespace(spec: dict[str, Any], problem: str) -> None:
    api = FakeKubeApi()
    pod_spec = {"containers": [{"name": "c", "image": "busybox"}], **spec}
    params = {"namespace": "shop", "name": "fix", "template": {"spec": pod_spec}}
    with pytest.raises(ActionError) as caught:
        await registry.invoke("run_job", params, ActionContext(kube=api.client(), allowed_namespace="shop"))
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert problem in str(caught.value)
    with pytest.raises(ActionError, match="hostAccess is for ClusterWorkflowTemplates only"):
        await registry.invoke(
            "run_job", {**params, "hostAccess": True}, ActionContext(kube=api.client(), allowed_namespace="shop")
        )
    assert api.writes() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fe80::1]/hook",
    ],
)
async def test_notify_never_posts_to_link_local_or_metadata_addresses(url: str) -> None:
    api = FakeKubeApi()
    for dry_run in (False, True):
        with pytest.raises(ActionError) as caught:
            await registry.invoke(
                "notify", {"url": url, "text": "hi"}, ActionContext(kube=api.client(), dry_run=dry_run)
            )
        assert caught.value.category is ErrorCategory.FORBIDDEN
        assert "link-local or cloud metadata" in str(caught.value)
        assert "meta-data" not in str(caught.value)  # the path stays redacted


async def test_notify_reads_its_url_from_the_mounted_secret_and_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{rest:.*}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        (tmp_path / "sre-channel").write_text(f"http://{host}:{port}/services/T0SECRET/xoxb-token\n")
        monkeypatch.setenv("SUTURE_NOTIFY_SECRETS_DIR", str(tmp_path))
        ctx = ActionContext(kube=FakeKubeApi().client())
        result = await registry.invoke("notify", {"urlFrom": "sre-channel", "text": "fixed"}, ctx)
        assert received == ["/services/T0SECRET/xoxb-token"]
        assert "T0SECRET" not in f"{result.message} {result.output}"
        with pytest.raises(ActionError, match="no such key in the notification Secret"):
            await registry.invoke("notify", {"urlFrom": "missing", "text": "x"}, ctx)
        with pytest.raises(ActionError, match="exactly one of url and urlFrom"):
            await registry.invoke("notify", {"text": "x"}, ctx)
    finally:
        await runner.cleanup()
