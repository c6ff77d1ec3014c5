"""Loading subflow templates from the cluster for the engine."""

from __future__ import annotations

from suture.api import API_VERSION, ClusterWorkflowTemplate, WorkflowTemplate, WorkflowTemplateSpec
from suture.errors import InvalidTemplate, TemplateNotFound
from suture.kube import KubeClient
from suture.validation import validate_object


class KubeTemplateSource:
    """The engine's TemplateSource, reading WorkflowTemplates and ClusterWorkflowTemplates."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def load(self, *, name: str, kind: str, namespace: str | None) -> WorkflowTemplateSpec:
        """The validated spec of a template.

        Raises TemplateNotFound when it does not exist, InvalidTemplate when it
        does not validate (both naming it in ``template``), and what the
        client raises (ApiError) when the API server cannot say.
        """
        cluster = kind == "ClusterWorkflowTemplate"
        where = None if cluster else namespace
        raw = await self._kube.get_or_none(kind, name, where, api_version=API_VERSION)
        label = f"{kind} {where}/{name}" if where else f"{kind} {name}"
        if raw is None:
            raise TemplateNotFound("not found", template=label)
        errors = [p for p in validate_object(raw, None) if p.severity == "error"]
        if errors:
            raise InvalidTemplate(f"invalid: {errors[0].path}: {errors[0].message}", template=label)
        model = ClusterWorkflowTemplate if cluster else WorkflowTemplate
        return model.model_validate(raw).spec
