"""Pure helpers of the in-memory API server: selectors, patches and ``Status`` bodies.

Each follows the API server's documented behaviour closely enough for
Suture's tests; where the real server does more (strategic-merge list
semantics, every field selector of every kind) it is said below.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any


class Refusal(Exception):
    """An API answer with status >= 400; ``body`` is the server's ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details is not None:
            self.body["details"] = dict(details)


def not_found(plural: str, name: str) -> Refusal:
    return Refusal(404, "NotFound", f'{plural} "{name}" not found', details={"name": name, "kind": plural})


def conflict(plural: str, name: str, why: str) -> Refusal:
    message = f'Operation cannot be fulfilled on {plural} "{name}": {why}'
    return Refusal(409, "Conflict", message, details={"name": name})


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> Refusal:
    """422 Invalid with one cause per (field, message), as the API server words it."""
    text = ", ".join(f"{field}: {message}" for field, message in causes)
    return Refusal(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {text}',
        details={
            "name": name,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        },
    )


# -- label selectors -------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")


def _terms(selector: str) -> list[str]:
    """Split on commas outside parentheses: ``a in (x,y),b`` is two terms."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def label_match(selector: str, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a label selector (=, ==, !=, in, notin, exists, !exists).

    Raises Refusal 400 on a term it cannot parse, as the API server does.
    """
    for term in _terms(selector):
        if m := _SET_TERM.match(term):
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            present = m["key"] in labels and labels[m["key"]] in values
            if present != (m["op"] == "in"):
                return False
        elif m := _EQ_TERM.match(term):
            equal = labels.get(m["key"]) == m["value"]
            if equal != (m["op"] != "!="):
                return False
        elif m := _EXISTS_TERM.match(term):
            if (m["key"] in labels) == bool(m["neg"]):
                return False
        else:
            raise Refusal(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return True


def match_labels(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector object (matchLabels and matchExpressions) against ``labels``; empty matches all."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# -- field selectors -------------------------------------------------------------------

FIELDS = ("metadata.name", "metadata.namespace", "status.phase", "spec.nodeName", "spec.unschedulable")


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def field_match(selector: str, obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` satisfies a field selector (=, ==, != on the fields the API server indexes).

    Supported: :data:`FIELDS` and, for Events, ``involvedObject.*`` and
    ``reason``/``type``; any other field is a 400, as on the real server.
    """
    for term in _terms(selector):
        m = _EQ_TERM.match(term)
        if m is None:
            raise Refusal(400, "BadRequest", f"invalid field selector: {term!r}")
        key = m["key"]
        if key not in FIELDS and not key.startswith("involvedObject.") and key not in ("reason", "type"):
            raise Refusal(400, "BadRequest", f'field label not supported: "{key}"')
        if (_field(obj, key) == m["value"]) != (m["op"] != "!="):
            return False
    return True


# -- patches ---------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise Refusal(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise Refusal(422, "Invalid", f"path {path!r} does not exist") from None
    return node


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, copy, move); a failed op is a 422 and nothing applies."""
    if not isinstance(ops, list):
        raise Refusal(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        path = op.get("path", "")
        if op.get("op") in ("copy", "move"):
            value = _get(doc, op["from"])
            if op["op"] == "move":
                doc = _apply(doc, "remove", op["from"], None)
            doc = _apply(doc, "add", path, value)
        elif op.get("op") == "test":
            if _get(doc, path) != op.get("value"):
                raise Refusal(422, "Invalid", f"the test of {path!r} failed: value is not {op.get('value')!r}")
        else:
            doc = _apply(doc, str(op.get("op")), path, copy.deepcopy(op.get("value")))
    return doc


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError):
        raise Refusal(422, "Invalid", f"path {path!r} does not exist") from None


def _apply(doc: Any, op: str, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, value)
        elif op in ("remove", "replace") and 0 <= index < len(parent):
            parent.pop(index) if op == "remove" else parent.__setitem__(index, value)
        else:
            raise Refusal(422, "Invalid", f"path {path!r} does not exist")
    elif isinstance(parent, dict):
        if op in ("remove", "replace") and last not in parent:
            raise Refusal(422, "Invalid", f"path {path!r} does not exist")
        if op == "remove":
            del parent[last]
        elif op in ("add", "replace"):
            parent[last] = value
        else:
            raise Refusal(422, "Invalid", f"unknown JSON patch op {op!r}")
    else:
        raise Refusal(422, "Invalid", f"path {path!r} does not exist")
    return doc
