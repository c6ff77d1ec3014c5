"""Field paths into Kubernetes objects: ``status.readyReplicas``,
``metadata.labels.app``, ``spec.containers[0].image`` and
``status.conditions[type=Ready].status`` (the first list element whose field
equals the value, as kubectl's JSONPath filters would pick it).
"""

from __future__ import annotations

import re
from typing import Any

from suture.errors import PathError

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([A-Za-z0-9_.-]+)=([^\]]*)\]")
_MISSING = object()


def parse_path(path: str) -> list[str | int | tuple[str, str]]:
    """Split a path into keys, list indices and (field, value) filters; PathError when it does not parse."""
    parts: list[str | int | tuple[str, str]] = []
    pos = 0
    text = path.strip()
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise PathError(f"cannot parse field path {path!r} at position {pos}")
        key, index, fkey, fval = match.groups()
        if key is not None:
            parts.append(key)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append((fkey, fval))
        pos = match.end()
    if not parts:
        raise PathError("empty field path")
    return parts


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """The value at ``path`` in ``obj``, or ``default`` when any step is missing."""
    current = obj
    for part in parse_path(path):
        if isinstance(part, tuple):
            if not isinstance(current, list):
                return default
            key, value = part
            current = next((e for e in current if isinstance(e, dict) and str(e.get(key)) == value), _MISSING)
        elif isinstance(part, int):
            current = current[part] if isinstance(current, list) and -len(current) <= part < len(current) else _MISSING
        else:
            current = current.get(part, _MISSING) if isinstance(current, dict) else _MISSING
        if current is _MISSING:
            return default
    return current
