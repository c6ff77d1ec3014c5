"""The action registry: the only way Suture touches a cluster.

Actions come from packs discovered through the ``suture.actions`` entry-point
group, the built-in pack included; the core never imports a pack by name.
"""

from suture.actions.errors import ActionError, ErrorCategory, RegistryError
from suture.actions.registry import Registry, load_registry
from suture.actions.spec import ActionContext, ActionResult, ActionSpec, RbacRule, Risk, action

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionResult",
    "ActionSpec",
    "ErrorCategory",
    "RbacRule",
    "Registry",
    "RegistryError",
    "Risk",
    "action",
    "load_registry",
]
