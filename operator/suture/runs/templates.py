"""Loading subflow templates from the cluster for the engine."""

from __future__ import annotations

from suture.api import API_VERSION, ClusterWorkflowTemplate, WorkflowTemplate, WorkflowTemplateSpec
from suture.kube import KubeClient
from suture.validation import validate_object


class KubeTemplateSource:
    """The engine's TemplateSource, reading WorkflowTemplates and ClusterWorkflowTemplates."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def load(self, *, name: str, kind: str, namespace: str | None) -> WorkflowTemplateSpec:
        """The validated spec of a template; KeyError when missing, ValueError when invalid."""
        cluster = kind == "ClusterWorkflowTemplate"
        raw = await self._kube.get_or_none(kind, name, None if cluster else namespace, api_version=API_VERSION)
        if raw is None:
            raise KeyError(f"{kind} {name!r} not found")
        errors = [p for p in validate_object(raw, None) if p.severity == "error"]
        if errors:
            raise ValueError(f"{kind} {name!r} is invalid: {errors[0].path}: {errors[0].message}")
        model = ClusterWorkflowTemplate if cluster else WorkflowTemplate
        return model.model_validate(raw).spec
