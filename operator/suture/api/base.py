"""Shared building blocks of every Suture resource model.

Kubernetes speaks camelCase JSON; Python speaks snake_case. Every model here
accepts both on input and always emits camelCase, so a model dumped with
:func:`to_k8s` is exactly what ``kubectl apply`` would send.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "suture.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class SutureModel(BaseModel):
    """Base of every schema model: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        validate_assignment=True,
    )


def to_k8s(model: BaseModel) -> dict[str, Any]:
    """Dump a model as the JSON object the API server stores (camelCase, no nulls)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h)")
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        description="A duration such as 30s, 5m, 1h30m or 500ms.",
        json_schema_extra={"example": "5m"},
    ),
]

# Names of steps and variables: lowercase DNS-label-like, so they read well in
# `kubectl get` output and can appear in Event reasons and metric labels.
StepName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", min_length=1, max_length=63)]
K8sName = Annotated[str, Field(pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", min_length=1, max_length=253)]


def parse_duration(text: str) -> float:
    """Return the number of seconds in a duration such as ``1h30m``.

    Raises ValueError naming the text when it is not a duration.
    """
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 5m, 1h30m, 500ms)")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def format_duration(seconds: float) -> str:
    """Render seconds as the shortest duration string, e.g. 90 -> ``1m30s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


class Condition(SutureModel):
    """A status condition in the Kubernetes convention (type/status/reason/message)."""

    type: str = Field(description="Condition type, e.g. Valid or Ready.")
    status: str = Field(description="True, False or Unknown.", pattern=r"^(True|False|Unknown)$")
    reason: str = Field(default="", description="One CamelCase word saying why.")
    message: str = Field(default="", description="What a person needs to know, in plain words.")
    observed_generation: int | None = Field(default=None, description="The generation this was computed for.")
    last_transition_time: str | None = Field(default=None, description="RFC 3339 time of the last change.")


class LabelSelectorRequirement(SutureModel):
    """One matchExpressions entry, as in Kubernetes label selectors."""

    key: str = Field(min_length=1, description="The label key.")
    operator: str = Field(pattern=r"^(In|NotIn|Exists|DoesNotExist)$", description="In, NotIn, Exists or DoesNotExist.")
    values: list[str] = Field(default_factory=list, description="Values for In and NotIn; empty otherwise.")


class LabelSelector(SutureModel):
    """A Kubernetes-style label selector; all terms must hold (AND)."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels that must equal these values.")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Set-based requirements."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        """True when ``labels`` satisfies every term of the selector."""
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
        return True

    def to_query(self) -> str:
        """Render as a label-selector query string for the Kubernetes API."""
        parts = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        for req in self.match_expressions:
            if req.operator == "Exists":
                parts.append(req.key)
            elif req.operator == "DoesNotExist":
                parts.append(f"!{req.key}")
            else:
                op = "in" if req.operator == "In" else "notin"
                parts.append(f"{req.key} {op} ({','.join(req.values)})")
        return ",".join(parts)
