"""Subflow templates read from the cluster for the engine."""

from __future__ import annotations

import pytest

from suture.errors import InvalidTemplate, TemplateNotFound
from suture.kube import KubeClient
from suture.runs.templates import KubeTemplateSource
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import template


async def test_a_namespaced_and_a_cluster_template_load_as_specs(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(template("local"), template("shared", namespace=None))
    source = KubeTemplateSource(kube)
    local = await source.load(name="local", kind="WorkflowTemplate", namespace="shop")
    shared = await source.load(name="shared", kind="ClusterWorkflowTemplate", namespace="shop")
    assert [s.name for s in local.steps] == [s.name for s in shared.steps] == ["one"]


async def test_missing_and_invalid_templates_raise_distinct_errors(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(template("broken", steps=[{"name": "one", "action": {"name": "record"}, "next": "nowhere"}]))
    source = KubeTemplateSource(kube)
    with pytest.raises(TemplateNotFound, match=r"^template WorkflowTemplate shop/ghost: not found$") as missing:
        await source.load(name="ghost", kind="WorkflowTemplate", namespace="shop")
    assert missing.value.category == "not-found"
    assert missing.value.template == "WorkflowTemplate shop/ghost"
    with pytest.raises(InvalidTemplate, match=r"^template WorkflowTemplate shop/broken: invalid: ") as broken:
        await source.load(name="broken", kind="WorkflowTemplate", namespace="shop")
    assert broken.value.category == "invalid"
    assert not broken.value.retryable
