"""Suture's built-in action pack.

Registered through the ``suture.actions`` entry point exactly as a third-party
pack would be; the operator core never imports this package by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suture.actions import Registry

# The modules that declare actions, each exposing ACTIONS (a list of ActionSpec).
# One job per module; several modules may share a family (the lifecycle family
# spans restarts, rollback, quarantine, cleanup and cronjobs).
MODULES = (
    "scaling",
    "resources",
    "restarts",
    "rollback",
    "quarantine",
    "cleanup",
    "cronjobs",
    "nodes",
    "storage",
    "network",
    "diagnostics",
    "notify",
    "observability",
    "metadata",
    "readiness",
    "jobs",
    "snapshots",
    "files",
    "netpods",
    "mesh",
    "rotation",
    "debug",
    "heapdump",
    "database",
    "audit",
)


def register(registry: Registry) -> None:
    """Add every built-in action to ``registry``."""
    for name in MODULES:
        module = importlib.import_module(f"suture_actions.{name}")
        for spec in module.ACTIONS:
            registry.add(spec)
