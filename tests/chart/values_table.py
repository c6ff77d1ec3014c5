"""The values reference table of README "Installing with Helm", rendered from values.schema.json and values.yaml.

`.venv/bin/python -m tests.chart.values_table` prints it; test_chart.py fails when the README's copy differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from tests.chart.helm import CHART


def _rows(path: list[str], node: dict[str, Any], default: Any) -> Iterator[str]:
    if node.get("type") == "object" and "properties" in node:
        for key, child in node["properties"].items():
            yield from _rows([*path, key], child, (default or {}).get(key))
        return
    kind = " \\| ".join(f"`{e}`" for e in node["enum"]) if "enum" in node else node["type"]
    shown = f'"{default}"' if isinstance(default, str) else json.dumps(default)
    yield f"| `{'.'.join(path)}` | {kind} | `{shown}` | {node.get('description', '')} |"


def render() -> str:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    lines = ["| value | type | default | meaning |", "| --- | --- | --- | --- |", *_rows([], schema, defaults)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
