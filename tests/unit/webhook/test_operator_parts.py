"""The pieces around the intake: the pause switch, the index catch-up behind /readyz, TLS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from suture.webhook import (
    IndexCatalog,
    ReceiverReadiness,
    read_pause,
    serve,
    set_pause,
    tls_context,
    wait_until_indexed,
)
from suture.webhook.app import build_app
from tests.conftest import free_port, wait_for
from tests.unit.webhook.conftest import template
from tests.unit.webhook.fakes import ReceiverApi


async def test_pause_and_resume_round_trip_through_the_configmap() -> None:
    kube = ReceiverApi().client
    assert await read_pause(kube, namespace="home") is None
    await set_pause(kube, namespace="home", paused=True, reason="change freeze")
    assert await read_pause(kube, namespace="home") == "change freeze"
    await set_pause(kube, namespace="home", paused=False)
    assert await read_pause(kube, namespace="home") is None


async def test_the_catalog_is_synced_only_once_it_holds_every_listed_template() -> None:
    kube = ReceiverApi()
    kube.add(
        {
            "apiVersion": "suture.dev/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "restart-pod", "namespace": "shop", "uid": "uid-restart-pod"},
        }
    )
    kube.add(
        {
            "apiVersion": "suture.dev/v1alpha1",
            "kind": "ClusterWorkflowTemplate",
            "metadata": {"name": "drain", "uid": "uid-drain"},
        }
    )
    index: dict[str, list[Any]] = {"all": [template("restart-pod")]}
    cluster_index: dict[str, list[Any]] = {}
    catalog = IndexCatalog([index, cluster_index])
    readiness = ReceiverReadiness(kube=kube.client, catalog=catalog)
    sync = asyncio.create_task(
        wait_until_indexed(kube=kube.client, catalog=catalog, namespaces=("shop",), interval=0.01)
    )
    await asyncio.sleep(0.05)
    assert not catalog.synced
    assert await readiness() == ["templates are not indexed yet"]
    cluster_index["all"] = [template("drain", namespace=None)]
    await asyncio.wait_for(sync, 2)
    assert catalog.synced
    assert await readiness() == []
    readiness.stopping = True
    assert await readiness() == ["the operator is shutting down"]


async def test_readiness_reports_an_api_server_that_does_not_answer() -> None:
    kube = ReceiverApi()
    catalog = IndexCatalog([])
    catalog.mark_synced()
    kube.unreachable = True
    missing = await ReceiverReadiness(kube=kube.client, catalog=catalog)()
    assert missing == ["the API server does not answer (ApiUnavailable)"]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_the_server_speaks_tls_when_given_a_certificate(certificate: tuple[Path, Path]) -> None:
    from suture.webhook import Authenticator, Intake, PriorityRanker, StaticCatalog

    cert, key = certificate
    intake = Intake(kube=ReceiverApi().client, catalog=StaticCatalog(), ranker=PriorityRanker(), home_namespace="h")
    app = build_app(intake=intake, authenticator=Authenticator())
    port = free_port()
    runner = await serve(app, host="127.0.0.1", port=port, tls=tls_context(cert_file=str(cert), key_file=str(key)))
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))

        async def healthy() -> bool:
            async with aiohttp.ClientSession() as s, s.get(f"https://127.0.0.1:{port}/healthz", ssl=client_tls) as r:
                return r.status == 200

        assert await wait_for(healthy, timeout=5, what="HTTPS /healthz")
        with pytest.raises(aiohttp.ClientError):
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/healthz") as r:
                await r.read()
    finally:
        await runner.cleanup()
