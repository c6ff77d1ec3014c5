"""Compile and evaluate ``${{ }}`` values with the CEL library.

The CEL library's own exceptions (ValueError when compiling; KeyError,
RuntimeError, TypeError, ValueError when evaluating) are mapped here, once,
to :class:`~suture.errors.ExpressionError` (invalid).
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

# The package's __init__ also imports its interactive shell, ``cel.cli`` (prompt_toolkit, typer,
# rich: about 7 MB resident in the operator), which Suture never uses; an empty module stands in.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
import cel  # noqa: E402

from suture.errors import ExpressionError  # noqa: E402

# Names an expression may start from. `item` exists inside foreach/rollout.
CONTEXT_ROOTS = frozenset({"alert", "target", "vars", "steps", "item", "run"})

_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


def is_expression(value: Any) -> bool:
    """True when ``value`` is a string holding at least one ``${{ }}``."""
    return isinstance(value, str) and _EXPR.search(value) is not None


def expressions_in(value: str) -> list[str]:
    """The CEL sources inside the ``${{ }}`` of ``value``."""
    return [m.strip() for m in _EXPR.findall(value)]


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> Any:
    """Compile CEL once; raises ExpressionError with the parser's complaint."""
    if not source.strip():
        raise ExpressionError(source, "empty expression")
    try:
        return cel.compile(source)
    except ValueError as exc:
        found = re.search(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)", str(exc))
        detail = f"column {found.group(2)}: {found.group(3)}" if found else str(exc).splitlines()[0]
        raise ExpressionError(source, f"CEL does not compile ({detail})") from None


def referenced_roots(source: str) -> set[str]:
    """Top-level names an expression reads (comprehension variables excluded)."""
    program = compile_expression(source)
    macro_vars = set(_MACRO_VAR.findall(source))
    return {v for v in program.variables() if v not in macro_vars}


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one CEL expression over ``context``; ExpressionError explains failures."""
    program = compile_expression(source)
    try:
        return program.execute(dict(context))
    except KeyError as exc:
        raise ExpressionError(source, f"no such key {exc.args[0]!r}") from None
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ExpressionError(source, str(exc).split(". Check")[0]) from None


def evaluate_bool(source: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a guard or check; it must yield a bool."""
    result = evaluate(source, context)
    if not isinstance(result, bool):
        raise ExpressionError(source, f"expected true or false, got {type(result).__name__} {result!r}")
    return result


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def resolve_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Resolve every ``${{ }}`` inside ``value`` (recursing into lists and dicts).

    Results are never scanned again, so text that came from the context (alert
    labels, object fields) cannot inject an expression.
    """
    if isinstance(value, dict):
        return {k: resolve_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_value(v, context) for v in value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    found = list(_EXPR.finditer(text))
    # Only a value that is exactly one ${{ }} keeps CEL's type; "${{ a }}-${{ b }}"
    # is text with two expressions in it (a greedy fullmatch would read it as one).
    if len(found) == 1 and found[0].span() == (0, len(text)):
        return evaluate(found[0].group(1).strip(), context)
    return _EXPR.sub(lambda m: _stringify(evaluate(m.group(1).strip(), context)), value)


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, string) inside a nested value, for validation."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value
