"""Checks: the questions a workflow can ask of the world.

One check model serves a ``condition`` step, a ``wait`` until a condition holds,
the health gate of a ``rollout`` and the ``verify`` section of a template, so a
user learns the vocabulary once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from suture.api.base import Duration, SutureModel

CompareOperator = Literal["==", "!=", ">", ">=", "<", "<="]
FieldOperator = Literal["Equals", "NotEquals", "GreaterThan", "GreaterOrEqual", "LessThan", "LessOrEqual", "Exists"]
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class ResourceCheck(SutureModel):
    """Compare one field of a live object; the object defaults to the run's target."""

    api_version: str | None = Field(default=None, description="apiVersion of the object; the target's when empty.")
    kind: str | None = Field(default=None, description="Kind of the object; the target's when empty.")
    namespace: str | None = Field(default=None, description="Namespace (value or ${{ }} lookup); the target's.")
    name: str | None = Field(default=None, description="Name (value or ${{ }} lookup); the target's when empty.")
    field: str = Field(
        min_length=1,
        max_length=256,
        description="Dotted path into the object, e.g. status.readyReplicas or metadata.labels.app.",
    )
    operator: FieldOperator = Field(default="Equals", description="How the field compares with value.")
    value: Any = Field(default=None, description="The value to compare with (literal or ${{ }} lookup).")


class PromQLMatcher(SutureModel):
    """A label matcher a PromQL query receives as data (escaped by Suture, never pasted into the text)."""

    label: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=128, description="The label name.")
    op: Literal["=", "!=", "=~", "!~"] = Field(default="=", description="PromQL's matcher operator.")
    value: str = Field(max_length=1024, description="The value, literal or a ${{ }} lookup such as the alert's label.")


class PromQLCheck(SutureModel):
    """An instant PromQL query compared with a threshold, optionally held for a duration."""

    query: str = Field(
        min_length=1,
        max_length=4096,
        description="PromQL instant query; its first sample is used. $matchers marks where matchers go, inside "
        "a selector's braces.",
    )
    matchers: list[PromQLMatcher] = Field(
        default_factory=list, max_length=20, description="Label matchers for $matchers, values escaped."
    )
    operator: CompareOperator = Field(default=">", description="Comparison of the sample with threshold.")
    threshold: float = Field(description="The number the sample is compared with.")
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="The comparison must hold this long (re-queried every interval).",
    )


class TimeWindow(SutureModel):
    """True while the clock is inside the window (e.g. business hours)."""

    days: list[Weekday] = Field(default_factory=list, description="Days the window applies; every day when empty.")
    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Start time, HH:MM.")
    end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", description="End time, HH:MM.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone name, e.g. Europe/Berlin.")


_CHECK_KINDS = ("expression", "resource", "promql", "time_window")
EXACTLY_ONE_CHECK_RULE: JsonDict = {
    "rule": "[has(self.expression), has(self.resource), has(self.promql), has(self.timeWindow)]"
    ".filter(x, x).size() == 1",
    "message": "set exactly one of expression, resource, promql or timeWindow",
}


class Check(SutureModel):
    """Exactly one of: a CEL expression, a resource field, a PromQL value or a time window."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [EXACTLY_ONE_CHECK_RULE]})

    expression: str | None = Field(
        default=None, max_length=2048, description="CEL expression over the run context that yields a bool."
    )
    resource: ResourceCheck | None = Field(default=None, description="A field of a live object.")
    promql: PromQLCheck | None = Field(default=None, description="A PromQL value against a threshold.")
    time_window: TimeWindow | None = Field(default=None, description="A window of the clock.")

    @property
    def kind(self) -> str:
        """Which of the four check kinds this is."""
        for name in _CHECK_KINDS:
            if getattr(self, name) is not None:
                return name
        return "none"

    @model_validator(mode="after")
    def _exactly_one(self) -> Check:
        chosen = [n for n in _CHECK_KINDS if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "set exactly one of expression, resource, promql or timeWindow"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self
