"""The base of every action's parameter model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ActionParams(BaseModel):
    """Base of action parameter models: camelCase or snake_case in, unknown keys rejected.

    Templates are written in camelCase like every Kubernetes manifest; the
    action's Python code reads snake_case attributes. Rejecting unknown keys
    turns a misspelt parameter into a validation error instead of a silent
    default.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
