"""The control flow of a template's steps, as a graph ``suture validate`` can reason about.

See :mod:`suture.api.steps` for the rules: top-level steps fall through in list
order unless ``next`` or a condition's ``then``/``else`` jumps; ``parallel`` and
``foreach`` own the steps they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suture.api import END, Step


@dataclass
class Flow:
    """Edges of the top-level flow and the ownership of child steps."""

    top_level: list[str] = field(default_factory=list)
    owner_of: dict[str, str] = field(default_factory=dict)  # child -> owner
    edges: dict[str, list[str]] = field(default_factory=dict)  # step -> successors (END excluded)

    def reachable(self) -> set[str]:
        """Top-level steps reachable from the first one."""
        if not self.top_level:
            return set()
        seen: set[str] = set()
        stack = [self.top_level[0]]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.edges.get(name, []))
        return seen

    def find_cycle(self) -> list[str] | None:
        """One cycle of the flow as a list of names (first repeated last), or None."""
        state: dict[str, int] = {}
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            path.append(node)
            for nxt in self.edges.get(node, []):
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


def build_flow(steps: list[Step]) -> Flow:
    """The flow graph of ``steps``; references to unknown steps are left out."""
    names = {s.name for s in steps}
    flow = Flow()
    for step in steps:
        for child in step.owned():
            flow.owner_of.setdefault(child, step.name)
    flow.top_level = [s.name for s in steps if s.name not in flow.owner_of]
    for index, name in enumerate(flow.top_level):
        step = next(s for s in steps if s.name == name)
        fallthrough = flow.top_level[index + 1] if index + 1 < len(flow.top_level) else END
        successor = step.next or fallthrough
        targets: list[str] = []
        if step.condition is not None:
            targets.append(step.condition.then or successor)
            targets.append(step.condition.else_ or successor)
        else:
            targets.append(successor)
        flow.edges[name] = [t for t in dict.fromkeys(targets) if t != END and t in names]
    return flow


def ownership_cycle(steps: list[Step]) -> list[str] | None:
    """A chain of steps that own each other in a circle (a parallel containing itself)."""
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
