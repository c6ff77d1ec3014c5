"""Schema validation of a raw document against the pydantic models.

Pydantic's errors are turned into Problems whose paths use the YAML field
names (camelCase, ``[i]`` indices) and whose messages read as plain words.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from suture.api import ClusterWorkflowTemplate, Remediation, WorkflowTemplate
from suture.validation.problems import Problem, join_path

MODELS: dict[str, type[BaseModel]] = {
    "WorkflowTemplate": WorkflowTemplate,
    "ClusterWorkflowTemplate": ClusterWorkflowTemplate,
    "Remediation": Remediation,
}

_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Field required$"), "is required"),
    (re.compile(r"^Extra inputs are not permitted$"), "is not a known field"),
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"must be >= \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"must be <= \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"must be > \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"must be < \1"),
    (re.compile(r"^String should match pattern '(.+)'$"), r"does not match the required pattern \1"),
    (re.compile(r"^Value error, (.+)$"), r"\1"),
    (re.compile(r"^Input should be (.+)$"), r"must be \1"),
    (
        re.compile(r"^List should have at least (\d+) items? after validation.*$"),
        r"needs at least \1 item(s)",
    ),
    (re.compile(r"^List should have at most (\d+) items? after validation.*$"), r"allows at most \1 item(s)"),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"must be at most \1 characters"),
    (re.compile(r"^String should have at least (\d+) characters?$"), r"must be at least \1 characters"),
]


def plain(message: str) -> str:
    """Pydantic's message in plainer words."""
    for pattern, replacement in _REWRITES:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


def _path(loc: tuple[int | str, ...]) -> str:
    # Tagged unions and function validators add loc entries that are not fields.
    parts = [p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return join_path(*parts)


def problems_from(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    """Problems for every error of a pydantic ValidationError."""
    out = []
    for err in exc.errors(include_url=False):
        message = plain(err["msg"])
        if err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            message = f"must be one of {err['ctx']['expected']}"
        out.append(Problem(path=_path(prefix + tuple(err["loc"])), message=message))
    return out


def parse_document(doc: Any) -> tuple[BaseModel | None, list[Problem]]:
    """Parse one raw document into its model, or return the schema problems."""
    if not isinstance(doc, dict):
        return None, [Problem(path="", message=f"a document must be a mapping, not {type(doc).__name__}")]
    kind = doc.get("kind")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(MODELS)
        return None, [Problem(path="kind", message=f"{kind!r} is not a Suture kind (expected one of {known})")]
    try:
        return model.model_validate(doc), []
    except ValidationError as exc:
        return None, problems_from(exc)
