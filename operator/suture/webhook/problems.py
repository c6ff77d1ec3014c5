"""HTTP problems the receiver answers with: a status and a JSON body naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class HttpProblem(Exception):
    """A request the receiver refuses; ``status`` is the HTTP code (4xx for bad input, 503 to be retried)."""

    def __init__(
        self, status: int, error: str, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": ..., "field": ...}`` (field is null when no field is at fault)."""
        return {"error": self.error, "field": self.field}


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path, e.g. ``alerts[0].startsAt``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def from_validation_error(exc: ValidationError) -> HttpProblem:
    """A 400 naming the first invalid field; the offending value is not echoed (it may hold secrets)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    return HttpProblem(400, f"invalid payload: {first['msg']}", field=field_path(tuple(first["loc"])))
