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


def _parse(text: str, source: str) -> Iterator[Document]:
    index = 0
    try:
        for index, body in enumerate(yaml.safe_load_all(text), start=1):
            if body is not None:
                yield Document(source, index, body)
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
