"""Which step runs next: the one place that knows a template's control flow.

The rules (see :mod:`suture.api.steps`):

- Top-level steps run in list order; ``parallel`` and ``foreach`` *own* the
  steps they name, and owned steps are not part of the top-level order.
- After a step comes its ``next`` (``end`` stops the run), else the following
  top-level step, else the end.
- A ``condition`` jumps to ``then`` when its check holds and to ``else`` when
  not; an empty branch falls through to the step's successor above.
- A failed step stops the run unless its ``onFailure`` is ``continue``; a
  failed approval always stops it (a rejection is never carried on from).

The engine's graph, the subflow runner, ``suture simulate`` and
``suture validate`` all ask this module; none of them repeats a rule. It
imports nothing from Suture but :mod:`suture.api`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from suture.api import END, Step


@dataclass(frozen=True)
class Flow:
    """A template's control flow, built once by :func:`build_flow`."""

    top_level: tuple[str, ...]
    """The steps the run walks, in list order (owned steps left out)."""
    owner_of: Mapping[str, str]
    """Owned step -> the ``parallel``/``foreach`` step that runs it (the first owner when several claim it)."""
    edges: Mapping[str, tuple[str, ...]]
    """Top-level step -> the steps that can run after it (``end`` and unknown names left out)."""
    steps: Mapping[str, Step]
    """Every step by name (the first one when a name repeats)."""

    def reachable(self, start: str | None = None) -> set[str]:
        """The top-level steps reachable from ``start`` (the first step by default), ``start`` included."""
        first = start if start is not None else first_step(self)
        return reachable_from(self, [first]) if first != END else set()

    def find_cycle(self) -> list[str] | None:
        """One loop of the flow as a list of names (the first repeated last), or None."""
        state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            path.append(node)
            for nxt in self.edges.get(node, ()):
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if nxt not in state:
                    found = visit(nxt)
                    if found:
                        return found
            path.pop()
            state[node] = 2
            return None

        for start in self.top_level:
            if start not in state:
                found = visit(start)
                if found:
                    return found
        return None


def build_flow(steps: Sequence[Step]) -> Flow:
    """The flow of ``steps``. Never raises: references to unknown steps are kept out of ``edges``."""
    by_name: dict[str, Step] = {}
    owner_of: dict[str, str] = {}
    for step in steps:
        by_name.setdefault(step.name, step)
        for child in step.owned():
            owner_of.setdefault(child, step.name)
    top_level = tuple(dict.fromkeys(s.name for s in steps if s.name not in owner_of))
    partial = Flow(top_level=top_level, owner_of=MappingProxyType(owner_of), edges=MappingProxyType({}), steps=by_name)
    edges: dict[str, tuple[str, ...]] = {}
    for name in top_level:
        verdicts: tuple[bool | None, ...] = (True, False) if by_name[name].condition is not None else (None,)
        after = (successor(partial, name, branch=verdict) for verdict in verdicts)
        edges[name] = tuple(t for t in dict.fromkeys(after) if t != END and t in by_name)
    return Flow(
        top_level=top_level,
        owner_of=MappingProxyType(owner_of),
        edges=MappingProxyType(edges),
        steps=MappingProxyType(by_name),
    )


def first_step(flow: Flow) -> str:
    """The step a run starts with, or ``END`` when every step is owned by another."""
    return flow.top_level[0] if flow.top_level else END


def successor(flow: Flow, name: str, *, branch: bool | None = None) -> str:
    """The step after top-level step ``name``, or ``END``.

    ``branch`` is a condition's verdict (None for other steps, or a condition
    that did not decide). Raises KeyError when ``name`` is not a top-level
    step: owned steps have no successor, their owner does.
    """
    if name not in flow.top_level:
        raise KeyError(f"{name!r} is not a top-level step")
    step = flow.steps[name]
    index = flow.top_level.index(name)
    after = step.next or (flow.top_level[index + 1] if index + 1 < len(flow.top_level) else END)
    if step.condition is not None and branch is not None:
        return (step.condition.then if branch else step.condition.else_) or after
    return after


def stops_run(step: Step, *, failed: bool) -> bool:
    """True when a step that ended this way ends the run (its ``onFailure`` then says how)."""
    return failed and (step.on_failure != "continue" or step.approval is not None)


def reachable_from(flow: Flow, starts: Iterable[str]) -> set[str]:
    """The top-level steps reachable from ``starts`` (included; ``end`` and unknown names ignored)."""
    seen: set[str] = set()
    stack = [s for s in starts if s in flow.edges]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(flow.edges.get(name, ()))
    return seen


def only_on_branch(flow: Flow, name: str, *, branch: bool) -> list[str]:
    """The steps condition ``name`` runs on its ``branch`` side and never on the other, in flow order.

    Where the two branches meet again, the shared steps are left out: this is
    what choosing the branch changes.
    """
    here = reachable_from(flow, [successor(flow, name, branch=branch)])
    there = reachable_from(flow, [successor(flow, name, branch=not branch)])
    return [n for n in flow.top_level if n in here and n not in there]


def ownership_cycle(steps: Sequence[Step]) -> list[str] | None:
    """A chain of steps that own each other in a circle (a parallel containing itself), or None."""
    owns = {s.name: s.owned() for s in steps}
    for start in owns:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for child in owns.get(node, []):
                if child == start:
                    return [*path, child]
                if child not in path:
                    stack.append((child, [*path, child]))
    return None
