"""Reading documents to validate: files, directories and stdin, multi-document YAML."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from suture.validation.problems import Problem

YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Document:
    """One YAML document and where it came from."""

    source: str
    index: int  # 1-based
    body: Any
    problem: Problem | None = None  # a parse error instead of a body


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES)
    else:
        yield path


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (plain YAML keeps the last one silently,
    so a reviewer reading the first would approve what does not run)."""


def _unique_keys(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


def _parse(text: str, source: str) -> Iterator[Document]:
    index = 0
    try:
        for index, body in enumerate(yaml.load_all(text, Loader=_StrictLoader), start=1):
            if body is not None:
                yield Document(source, index, body)
    except RecursionError:
        yield Document(source, index + 1, None, Problem("", "not valid YAML: nested too deeply"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        yield Document(source, index + 1, None, Problem("", f"not valid YAML: {where}{problem}"))


def read_documents(paths: list[str]) -> Iterator[Document]:
    """Every document under ``paths`` (``-`` reads stdin), in a stable order."""
    for raw in paths:
        if raw == "-":
            yield from _parse(sys.stdin.read(), "-")
            continue
        path = Path(raw)
        if not path.exists():
            yield Document(raw, 0, None, Problem("", "no such file or directory"))
            continue
        for file in _files(path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield Document(str(file), 0, None, Problem("", f"cannot read: {exc}"))
                continue
            yield from _parse(text, str(file))
