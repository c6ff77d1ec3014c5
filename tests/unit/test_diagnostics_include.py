"""collect_diagnostics keeps what earlier steps found (a query_prometheus output) in its bundle."""

from __future__ import annotations

import json

from suture.actions import ActionContext, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment


async def test_the_bundle_includes_earlier_steps_outputs() -> None:
    api = FakeKubeApi()
    api.add(deployment("web", namespace="shop"))
    latency = {"query": 'p99{service="web"}', "value": 0.8, "series": []}
    params = {"kind": "Deployment", "namespace": "shop", "name": "web", "include": {"latency": latency}}
    out = await load_registry().invoke("collect_diagnostics", params, ActionContext(kube=api.client()))
    bundle = json.loads(api.get("ConfigMap", out.output["configMap"], "shop")["data"]["bundle.json"])
    assert bundle["included"] == {"latency": latency}
