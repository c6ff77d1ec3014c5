"""The action registry, and the one module an action pack imports from Suture.

Everything a pack needs is exported here, deliberately, and an import-linter
contract holds the built-in pack to this module alone; the rest of Suture may
change between releases without breaking a pack.

- Declaring an action: :func:`action` (or :class:`ActionSpec`), its parameter
  base :class:`ActionParams`, :class:`Risk`, :class:`RbacRule`; running it:
  :class:`ActionContext` in, :class:`ActionResult` out.
- Errors (from :mod:`suture.errors`, one tree): raise
  ``ActionError(message, category=ErrorCategory.X, action=...)``; it returns
  the ActionError subclass of that category (``ActionInvalid``, ...), so the
  category is the class's; the engine retries transient, conflict and
  timeout. :class:`ApiError` is what the Kubernetes client
  (:class:`KubeClient`, in the context) raises when the API server refuses,
  as the subclass of its status (404 not-found, 409 conflict, 429/5xx and no
  answer transient, ...); a kind or name that cannot be looked up is
  :class:`InvalidReference` or :class:`UnknownKind` (never sent to the
  server); :class:`RegistryError`.
- Helpers: durations as templates write them (:data:`Duration`,
  :func:`parse_duration`, :func:`format_duration`), label selectors as data
  (:class:`LabelSelector`, never concatenated strings), and where a kind
  lives in the API (:func:`resource_info`, :class:`ResourceInfo`); PromQL
  label matchers as data (:class:`LabelMatcher`, :func:`with_matchers`:
  alert label values are escaped, never concatenated into a query).
- Registration: a pack is an entry point in the ``suture.actions`` group whose
  object is ``register(registry: Registry)``, calling :meth:`Registry.add`
  once per action. The built-in pack is found exactly this way; the core
  never imports a pack by name and loads them all with :func:`load_registry`.
"""

from suture.actions.params import ActionParams
from suture.actions.registry import Registry, load_registry
from suture.actions.spec import ActionContext, ActionResult, ActionSpec, RbacRule, Risk, action
from suture.api import Duration, LabelSelector, format_duration, parse_duration
from suture.errors import ActionError, ApiError, ErrorCategory, InvalidReference, RegistryError, UnknownKind
from suture.kube import KubeClient, ResourceInfo, resource_info
from suture.prometheus import LabelMatcher, with_matchers

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionParams",
    "ActionResult",
    "ActionSpec",
    "ApiError",
    "Duration",
    "ErrorCategory",
    "InvalidReference",
    "KubeClient",
    "LabelMatcher",
    "LabelSelector",
    "RbacRule",
    "Registry",
    "RegistryError",
    "ResourceInfo",
    "Risk",
    "UnknownKind",
    "action",
    "format_duration",
    "load_registry",
    "parse_duration",
    "resource_info",
    "with_matchers",
]
