"""``suture validate``: every mistake in a template, named by file, document and field.

:func:`validate_object` is what the operator calls to set a template's Valid
condition; :func:`validate_paths` is what the CLI calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suture.actions import Registry
from suture.api import AnyTemplate, ClusterWorkflowTemplate, WorkflowTemplate
from suture.validation.condition import valid_condition, valid_status, write_valid_condition
from suture.validation.documents import read_documents
from suture.validation.problems import Problem
from suture.validation.schema import parse_document
from suture.validation.template_checks import check_template

TOO_DEEP = "the document is nested too deeply to check"


def validate_object(doc: Any, registry: Registry | None, *, prometheus: bool | None = None) -> list[Problem]:
    """Schema and semantic problems of one raw resource (a dict as kubectl would send it).

    ``prometheus``: whether the operator has one (see :func:`check_template`).
    """
    try:
        return _validate_object(doc, registry, prometheus=prometheus)
    except RecursionError:  # hostile depth: a problem to report, never a crash (or a kopf handler retried forever)
        return [Problem("", TOO_DEEP)]


def _validate_object(doc: Any, registry: Registry | None, *, prometheus: bool | None) -> list[Problem]:
    model, problems = parse_document(doc)
    if model is None:
        return problems
    if isinstance(model, WorkflowTemplate | ClusterWorkflowTemplate):
        return check_template(model, registry, prometheus=prometheus)
    return []


def parse_template(doc: Any, registry: Registry | None) -> tuple[AnyTemplate | None, list[Problem]]:
    """Parse a raw template once and check it: its typed model (None when the schema refuses it) and its errors.

    The one way the operator reads a template: the model it returns is what the
    engine runs, so a template is parsed and validated once on its way to an action.
    """
    try:
        model, problems = parse_document(doc)
        if model is None:
            return None, problems
        if not isinstance(model, WorkflowTemplate | ClusterWorkflowTemplate):
            return None, [Problem(path="kind", message=f"{doc.get('kind')!r} is not a template kind")]
        return model, [p for p in check_template(model, registry) if p.severity == "error"]
    except RecursionError:
        return None, [Problem("", TOO_DEEP)]


def _resource_name(doc: Any) -> str:
    if isinstance(doc, dict):
        kind = doc.get("kind") or "?"
        meta = doc.get("metadata")
        name = (meta.get("name") if isinstance(meta, dict) else None) or "?"
        return f"{kind}/{name}"
    return ""


@dataclass
class Report:
    """The outcome of validating some documents."""

    documents: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that make a document invalid."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def valid(self) -> bool:
        """True when no document has an error."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``--output json``."""
        return {
            "valid": self.valid,
            "documents": self.documents,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.problems if p.severity == "warning"],
        }


def validate_paths(paths: list[str], registry: Registry | None, *, prometheus: bool | None = None) -> Report:
    """Validate every document under ``paths`` (``prometheus``: see :func:`check_template`)."""
    report = Report()
    for doc in read_documents(paths):
        report.documents += 1
        if doc.problem is not None:
            report.problems.append(doc.problem.located(source=doc.source, document=doc.index, resource=""))
            continue
        resource = _resource_name(doc.body)
        report.problems.extend(
            p.located(source=doc.source, document=doc.index, resource=resource)
            for p in validate_object(doc.body, registry, prometheus=prometheus)
        )
    return report


__all__ = [
    "Problem",
    "Report",
    "parse_document",
    "parse_template",
    "read_documents",
    "valid_condition",
    "valid_status",
    "validate_object",
    "validate_paths",
    "write_valid_condition",
]
