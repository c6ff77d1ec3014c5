"""Suture's built-in action pack.

Registered through the ``suture.actions`` entry point exactly as a third-party
pack would be; the operator core never imports this package by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suture.actions import Registry


def register(registry: Registry) -> None:
    """Add every built-in action to ``registry``."""
    from suture_actions import scaling

    for module in (scaling,):
        for spec in module.ACTIONS:
            registry.add(spec)
