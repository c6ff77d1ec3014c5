"""The registry of actions, filled from the ``suture.actions`` entry points.

A pack is an entry point whose object is ``register(registry)``; it calls
:meth:`Registry.add` once per action. The built-in pack is found exactly this
way, so a third-party pack has the same powers and the same checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from suture.actions.spec import ActionContext, ActionResult, ActionSpec
from suture.errors import ActionError, ApiError, ErrorCategory, RegistryError, SutureError, UnknownAction

ENTRY_POINT_GROUP = "suture.actions"


class Registry:
    """Actions by name."""

    def __init__(self) -> None:
        self._actions: dict[str, ActionSpec[Any]] = {}
        self._loading: str = ""

    def add(self, spec: ActionSpec[Any]) -> None:
        """Register one action; a name registered twice is an error naming both packs."""
        pack = self._loading or spec.pack or "<direct>"
        existing = self._actions.get(spec.name)
        if existing is not None:
            raise RegistryError(
                f"action {spec.name!r} from pack {pack!r} is already registered by pack {existing.pack!r}"
            )
        self._actions[spec.name] = dataclasses.replace(spec, pack=pack)

    def load_entry_points(self, points: Iterable[EntryPoint] | None = None) -> None:
        """Load every pack of the entry-point group (or the given entry points)."""
        for point in points if points is not None else entry_points(group=ENTRY_POINT_GROUP):
            self._loading = point.name
            try:
                try:
                    register = point.load()
                except Exception as exc:
                    raise RegistryError(
                        f"action pack {point.name!r} ({point.value}) failed to load: {type(exc).__name__}: {exc}"
                    ) from exc
                if not callable(register):
                    raise RegistryError(f"action pack {point.name!r} ({point.value}) is not a register function")
                try:
                    register(self)
                except RegistryError:
                    raise
                except Exception as exc:
                    raise RegistryError(
                        f"action pack {point.name!r} ({point.value}) failed to register its actions: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            finally:
                self._loading = ""

    def get(self, name: str) -> ActionSpec[Any]:
        """The action called ``name``; UnknownAction (invalid) lists what exists."""
        try:
            return self._actions[name]
        except KeyError:
            known = ", ".join(sorted(self._actions))
            raise UnknownAction(f"unknown action {name!r}; known actions: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Any:
        return iter(sorted(self._actions.values(), key=lambda s: (s.family, s.name)))

    def __len__(self) -> int:
        return len(self._actions)

    def parse_params(self, name: str, raw: Mapping[str, Any]) -> Any:
        """Validate raw parameters against the action's model; ActionError names the fields."""
        spec = self.get(name)
        try:
            return spec.params.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(params)'}: {err['msg']}" for err in exc.errors()
            )
            raise ActionError(f"invalid parameters: {problems}", category=ErrorCategory.INVALID, action=name) from None

    async def invoke(self, name: str, raw_params: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Validate parameters and run the action.

        Raises UnknownAction for a name no pack registers, ActionError for
        everything the action reports (an ApiError becomes the ActionError of
        its category), and any other SutureError the action raised with
        ``action`` filled in. Other exceptions are the action's bugs and pass
        through unchanged.
        """
        spec = self.get(name)
        params = self.parse_params(name, raw_params)
        if ctx.dry_run and not spec.supports_dry_run:
            return ActionResult(
                changed=False,
                dry_run=True,
                message=f"{name} cannot be dry-run; skipped because dry-run is on",
                output={"skipped": True},
            )
        try:
            result = await spec.run(ctx, params)
        except ApiError as exc:
            raise api_error_to_action_error(exc, name) from exc
        except SutureError as exc:
            exc.action = exc.action or name
            raise
        result.dry_run = ctx.dry_run
        return result

    async def undo(self, name: str, data: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Run the undo of a completed action with the data its run returned; raises as :meth:`invoke` does."""
        spec = self.get(name)
        if spec.undo is None:
            raise ActionError("this action cannot be undone", category=ErrorCategory.INVALID, action=name)
        try:
            return await spec.undo(ctx, data)
        except ApiError as exc:
            raise api_error_to_action_error(exc, name) from exc
        except SutureError as exc:
            exc.action = exc.action or name
            raise


def api_error_to_action_error(exc: ApiError, action: str) -> ActionError:
    """The action's failure for an API refusal, of the ApiError's own category (its class decided it, once)."""
    answer = f"answered {exc.status} {exc.reason}" if exc.status else "did not answer"
    return ActionError(f"the API server {answer}: {exc.message}", category=exc.category, action=action)


def load_registry() -> Registry:
    """A registry holding every installed pack."""
    registry = Registry()
    registry.load_entry_points()
    return registry
