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


THREAD_PROBE = """
import asyncio, sys, threading
from suture.engine import runner

where = []
real = runner.importlib.import_module
def recording(name, *args):
    if name == "suture.engine.graph":
        where.append(threading.current_thread() is threading.main_thread())
    return real(name, *args)
runner.importlib.import_module = recording

async def main():
    await runner.load_graph_runtime()
    await runner.load_graph_runtime()  # loaded: nothing imported again
asyncio.run(main())
print(where, "suture.engine.graph" in sys.modules)
"""


def test_the_first_run_imports_the_graph_runtime_off_the_event_loop() -> None:
    """About a CPU-second of imports: on the loop it would stall the webhook and every other run."""
    out = subprocess.run([sys.executable, "-c", THREAD_PROBE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[False] True"
