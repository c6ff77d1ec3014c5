"""Suture's built-in action pack.

Registered through the ``suture.actions`` entry point exactly as a third-party
pack would be; the operator core never imports this package by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suture.actions import Registry

# One module per family; each exposes ACTIONS, a list of ActionSpec.
FAMILIES = (
    "scaling",
    "resources",
    "lifecycle",
    "nodes",
    "storage",
    "network",
    "diagnostics",
    "notify",
    "metadata",
    "readiness",
    "jobs",
)


def register(registry: Registry) -> None:
    """Add every built-in action to ``registry``."""
    for family in FAMILIES:
        module = importlib.import_module(f"suture_actions.{family}")
        for spec in module.ACTIONS:
            registry.add(spec)
