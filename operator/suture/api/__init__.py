"""Suture's resource and payload schemas: the single source of truth.

This package is a leaf: it imports nothing else from Suture, so every other
layer (engine, webhook, CLI, handlers) can depend on it.
"""

from suture.api.alertmanager import AlertmanagerAlert, AlertmanagerPayload
from suture.api.base import (
    API_VERSION,
    GROUP,
    VERSION,
    Condition,
    Duration,
    LabelSelector,
    SutureModel,
    format_duration,
    parse_duration,
    to_k8s,
)
from suture.api.checks import Check, PromQLCheck, ResourceCheck, TimeWindow
from suture.api.remediation import (
    TERMINAL_PHASES,
    AlertInfo,
    AlertStatus,
    ObjectRef,
    RelatedAlert,
    Remediation,
    RemediationSpec,
    RemediationStatus,
    StepStatus,
    TemplateRef,
)
from suture.api.steps import END, STEP_KINDS, ActionCall, RetryPolicy, Step
from suture.api.template import (
    CLUSTER_SCOPED_KINDS,
    TARGET_KINDS,
    AlertMatch,
    AnyTemplate,
    ClusterWorkflowTemplate,
    Safety,
    TargetSpec,
    WorkflowTemplate,
    WorkflowTemplateSpec,
    WorkflowTemplateStatus,
)

RESOURCE_MODELS = (WorkflowTemplate, ClusterWorkflowTemplate, Remediation)

__all__ = [
    "API_VERSION",
    "CLUSTER_SCOPED_KINDS",
    "END",
    "GROUP",
    "RESOURCE_MODELS",
    "STEP_KINDS",
    "TARGET_KINDS",
    "TERMINAL_PHASES",
    "VERSION",
    "ActionCall",
    "AlertInfo",
    "AlertMatch",
    "AlertStatus",
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "AnyTemplate",
    "Check",
    "ClusterWorkflowTemplate",
    "Condition",
    "Duration",
    "LabelSelector",
    "ObjectRef",
    "PromQLCheck",
    "RelatedAlert",
    "Remediation",
    "RemediationSpec",
    "RemediationStatus",
    "ResourceCheck",
    "RetryPolicy",
    "Safety",
    "Step",
    "StepStatus",
    "SutureModel",
    "TargetSpec",
    "TemplateRef",
    "TimeWindow",
    "WorkflowTemplate",
    "WorkflowTemplateSpec",
    "WorkflowTemplateStatus",
    "format_duration",
    "parse_duration",
    "to_k8s",
]
