"""rotate_secrets (External Secrets and cert-manager kinds served, no controllers) and enable_debug_mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.actions.spec import LocalMemory
from suture.kube import KubeClient
from tests.cluster.actions.thirdparty import secret_owner_crds  # noqa: F401 - fixture
from tests.conftest import deployment

registry = load_registry()
ES_API = "external-secrets.io/v1"
CERT_API = "cert-manager.io/v1"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _run(kube: KubeClient, key: str) -> ActionContext:
    return ActionContext(kube=kube, idempotency_key=key, memory=LocalMemory(), poll_interval=0.1)


async def _stamp(kube: KubeClient, namespace: str, name: str) -> Any:
    template = (await kube.get("Deployment", name, namespace))["spec"]["template"]
    return (template["metadata"].get("annotations") or {}).get(RESTARTED_AT)


@pytest.mark.usefixtures("secret_owner_crds")
async def test_rotate_secrets_forces_a_sync_waits_for_it_and_rolls_the_consumers(
    kube: KubeClient, namespace: str
) -> None:
    es = {
        "apiVersion": ES_API,
        "kind": "ExternalSecret",
        "metadata": {"name": "db"},
        "spec": {"target": {"name": "db-creds"}, "secretStoreRef": {"name": "vault"}},
    }
    await kube.create("ExternalSecret", es, namespace, api_version=ES_API)
    await kube.patch(
        "ExternalSecret", "db", {"status": {"refreshTime": "2026-01-01T00:00:00Z"}}, namespace,
        api_version=ES_API, subresource="status",
    )  # fmt: skip
    user = deployment("app", 1)
    user["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "db-creds"}}]
    await kube.create("Deployment", user, namespace)
    await kube.create("Deployment", deployment("bystander", 1), namespace)
    params = {"namespace": namespace, "name": "db-creds", "timeout": "20s"}

    dry = await registry.invoke("rotate_secrets", params, ActionContext(kube=kube, dry_run=True))
    assert "would ask ExternalSecret/db to re-issue Secret db-creds and roll Deployment/app" in dry.message
    assert "force-sync" not in ((await kube.get("ExternalSecret", "db", namespace, api_version=ES_API))["metadata"]
                                .get("annotations") or {})  # fmt: skip

    async def external_secrets_controller() -> None:
        """What External Secrets does on a new force-sync value: sync and stamp refreshTime."""
        while True:
            obj = await kube.get("ExternalSecret", "db", namespace, api_version=ES_API)
            if (obj["metadata"].get("annotations") or {}).get("force-sync"):
                await kube.patch(
                    "ExternalSecret", "db", {"status": {"refreshTime": "2026-01-01T00:05:00Z"}}, namespace,
                    api_version=ES_API, subresource="status",
                )  # fmt: skip
                return
            await asyncio.sleep(0.1)

    controller = asyncio.create_task(external_secrets_controller())
    ctx = _run(kube, "run-r/rotate")
    result = await registry.invoke("rotate_secrets", params, ctx)
    await controller
    assert result.output["reissued"] == "2026-01-01T00:05:00Z"
    assert result.output["consumers"] == ["Deployment/app"]
    annotations = (await kube.get("ExternalSecret", "db", namespace, api_version=ES_API))["metadata"]["annotations"]
    assert annotations["force-sync"] == result.output["stamp"]
    assert await _stamp(kube, namespace, "app") == result.output["stamp"]
    assert await _stamp(kube, namespace, "bystander") is None


@pytest.mark.usefixtures("secret_owner_crds")
async def test_rotate_secrets_asks_cert_manager_and_says_when_nothing_answers(kube: KubeClient, namespace: str) -> None:
    cert = {
        "apiVersion": CERT_API,
        "kind": "Certificate",
        "metadata": {"name": "tls"},
        "spec": {"secretName": "tls-secret", "issuerRef": {"name": "ca"}},
    }
    await kube.create("Certificate", cert, namespace, api_version=CERT_API)
    with pytest.raises(ActionError, match="did not report a re-issue within 1s") as caught:
        await registry.invoke("rotate_secrets", {"namespace": namespace, "name": "tls-secret", "timeout": "1s"},
                              _run(kube, "run-c/rotate"))  # fmt: skip
    assert caught.value.category is ErrorCategory.TIMEOUT
    status = (await kube.get("Certificate", "tls", namespace, api_version=CERT_API))["status"]
    (issuing,) = status["conditions"]
    assert (issuing["type"], issuing["status"], issuing["reason"]) == ("Issuing", "True", "ManuallyTriggered")


async def test_enable_debug_mode_sets_env_for_a_while_and_undo_restores(kube: KubeClient, namespace: str) -> None:
    body = deployment("web", 1)
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "LOG_LEVEL", "value": "info"}]
    await kube.create("Deployment", body, namespace)
    original = (await kube.get("Deployment", "web", namespace))["spec"]["template"]
    params = {"namespace": namespace, "name": "web", "env": {"LOG_LEVEL": "debug"},
              "annotations": {"example.com/log-level": "debug"}, "duration": "30m", "hold": False}  # fmt: skip
    dry = await registry.invoke("enable_debug_mode", params, ActionContext(kube=kube, dry_run=True))
    assert "would set LOG_LEVEL=debug" in dry.message
    assert (await kube.get("Deployment", "web", namespace))["spec"]["template"] == original

    result = await registry.invoke("enable_debug_mode", params, ActionContext(kube=kube))
    template = (await kube.get("Deployment", "web", namespace))["spec"]["template"]
    assert template["spec"]["containers"][0]["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert template["metadata"]["annotations"]["suture.dev/debug-until"] == result.output["until"]
    assert result.undo is not None
    undone = await registry.undo("enable_debug_mode", result.undo, ActionContext(kube=kube))
    assert undone.changed
    assert (await kube.get("Deployment", "web", namespace))["spec"]["template"] == original

    briefly = {**params, "duration": "1s", "hold": True}
    held = await registry.invoke("enable_debug_mode", briefly, ActionContext(kube=kube))
    assert held.output["held"] is True
    assert (await kube.get("Deployment", "web", namespace))["spec"]["template"] == original
