"""A problem found in a document, and how problems are reported."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one document."""

    path: str  # field path, e.g. spec.steps[2].retry.limit
    message: str  # plain words, e.g. "must be >= 0"
    severity: Severity = "error"
    source: str = ""  # file name, or "-" for stdin
    document: int = 0  # 1-based position in a multi-document file
    resource: str = ""  # Kind/name when known

    def located(self, *, source: str, document: int, resource: str) -> Problem:
        """The same problem with its document's coordinates filled in."""
        return Problem(self.path, self.message, self.severity, source, document, resource)

    def render(self) -> str:
        """``file#doc Kind/name: path: message`` for people."""
        where = f"{self.source}#{self.document}" if self.source else ""
        who = f" {self.resource}" if self.resource else ""
        field = f"{self.path}: " if self.path else ""
        tag = "warning: " if self.severity == "warning" else ""
        return f"{where}{who}: {tag}{field}{self.message}".lstrip(": ")

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``--output json``."""
        return asdict(self)


def join_path(*parts: str | int) -> str:
    """Join path pieces: ('spec', 'steps', 2, 'name') -> spec.steps[2].name."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else part
    return out
