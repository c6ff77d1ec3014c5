"""Values in templates: literals, ``${{ lookup }}`` and ``${{ CEL }}``.

A parameter value is data unless it contains ``${{ ... }}``. The text inside is
a CEL expression evaluated over the run context (``alert``, ``target``,
``vars``, ``steps``, ``item``); a plain lookup such as ``alert.labels.pod`` is
simply the smallest CEL expression. A value that is exactly one ``${{ }}``
keeps the type CEL returns; a value with text around it becomes a string.

Alert labels are untrusted: their text is only ever *data* inside the context,
never parsed as an expression or a template, so a label containing ``${{`` is
inserted literally.
"""

from suture.errors import ExpressionError
from suture.expr.paths import get_path, parse_path
from suture.expr.values import (
    CONTEXT_ROOTS,
    compile_expression,
    evaluate,
    evaluate_bool,
    expressions_in,
    is_expression,
    referenced_roots,
    resolve_value,
    walk_strings,
)

__all__ = [
    "CONTEXT_ROOTS",
    "ExpressionError",
    "compile_expression",
    "evaluate",
    "evaluate_bool",
    "expressions_in",
    "get_path",
    "is_expression",
    "parse_path",
    "referenced_roots",
    "resolve_value",
    "walk_strings",
]
