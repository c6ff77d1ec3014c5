"""The operator's start-up imports leave out what only a run needs (the idle footprint, README: Benchmarks)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import suture.handlers  # what `suture run` imports before kopf starts (the CEL library too)
print(",".join(sorted(m for m in sys.argv[1].split(",") if m in sys.modules)))
"""


def test_starting_the_operator_loads_neither_the_graph_runtime_nor_cels_shell() -> None:
    absent = ["langgraph.graph", "langgraph.types", "langgraph.errors", "langsmith", "prompt_toolkit", "typer"]
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(absent)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_a_run_loads_the_graph_runtime_where_it_is_needed() -> None:
    probe = "import sys, suture.engine.graph; print('langgraph.types' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
