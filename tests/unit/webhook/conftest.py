"""The receiver's application over a fake API server, with a bearer token from a file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from suture.webhook import (
    IndexedTemplate,
    Intake,
    PriorityRanker,
    StaticCatalog,
    authenticator_from_files,
    build_app,
    index_entry,
)
from tests.unit.webhook.fakes import ReceiverApi

TOKEN = "s3cret-token"
HOME = "suture-home"


def template(
    name: str,
    *,
    namespace: str | None = "shop",
    alert_names: tuple[str, ...] = ("KubePodCrashLooping",),
    priority: int = 0,
    valid: bool = True,
    observed_generation: int = 1,
    target: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
) -> IndexedTemplate:
    """An index entry, as kopf would hold it for a template the operator has validated."""
    body = {
        "apiVersion": "suture.dev/v1alpha1",
        "kind": "WorkflowTemplate" if namespace else "ClusterWorkflowTemplate",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
        "spec": {
            "priority": priority,
            "match": {"alertNames": list(alert_names)},
            "steps": [{"name": "look", "action": {"name": "get_pod_logs"}}],
            **({"target": target} if target else {}),
            **({"safety": safety} if safety else {}),
        },
        "status": {
            "conditions": [
                {"type": "Valid", "status": "True" if valid else "False", "observedGeneration": observed_generation}
            ]
        },
    }
    return index_entry(body)


def alert(
    *,
    fingerprint: str = "0123456789abcdef",
    status: str = "firing",
    starts_at: str = "2026-11-29T06:00:00.123456789Z",
    ends_at: str = "0001-01-01T00:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 posts it."""
    return {
        "status": status,
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "web-1", **labels},
        "annotations": {"summary": "crash looping"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """A version 4 webhook body."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "suture",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
def kube() -> ReceiverApi:
    return ReceiverApi()


@pytest.fixture
def catalog() -> StaticCatalog:
    return StaticCatalog([template("restart-pod")])


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def intake(kube: ReceiverApi, catalog: StaticCatalog) -> Intake:
    return Intake(
        kube=kube.client,
        catalog=catalog,
        ranker=PriorityRanker(),
        home_namespace=HOME,
        watched_namespaces=(),
        api_timeout=0.5,
    )


@pytest.fixture
async def client(intake: Intake, token_file: Path) -> AsyncIterator[TestClient[Any, Any]]:
    authenticator = authenticator_from_files(token_file=str(token_file), basic_auth_file="")
    app = build_app(intake=intake, authenticator=authenticator, max_body=64 * 1024)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


AUTH = {"Authorization": f"Bearer {TOKEN}"}
