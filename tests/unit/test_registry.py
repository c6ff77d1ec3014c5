"""The action registry: discovery through entry points, and clear errors for broken packs."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest
from pydantic import BaseModel

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ErrorCategory,
    RbacRule,
    Registry,
    RegistryError,
    Risk,
    action,
    load_registry,
)
from suture.cli import main
from suture.errors import UnknownAction


class Nothing(BaseModel):
    count: int = 0


@action(name="noop", family="test", params=Nothing, risk=Risk.READ_ONLY, rbac=(RbacRule("", ("pods",), ("get",)),))
async def noop(ctx: ActionContext, params: Nothing) -> ActionResult:
    """Do nothing, successfully."""
    return ActionResult(changed=False, message="nothing to do", output={"count": params.count})


@pytest.fixture
def fake_packs() -> Iterator[types.ModuleType]:
    """A module importable as ``fake_pack`` with good and bad register functions."""
    module = types.ModuleType("fake_pack")

    def good(registry: Registry) -> None:
        registry.add(noop)

    def explode(registry: Registry) -> None:
        raise RuntimeError("boom")

    module.good = good  # type: ignore[attr-defined]
    module.explode = explode  # type: ignore[attr-defined]
    module.not_callable = 42  # type: ignore[attr-defined]
    sys.modules["fake_pack"] = module
    yield module
    del sys.modules["fake_pack"]


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="suture.actions")


# The actions of seed 001's catalogue that the built-in pack implements (the rest are example templates over run_job).
SEED_CATALOGUE = {
    "backup_data", "cleanup_storage", "restart_network", "reset_service_mesh", "rotate_secrets",
    "enable_debug_mode", "create_heap_dump", "failover_database", "audit_logs",
    "restart_pod", "scale_deployment", "rollback_deployment", "drain_node", "expand_pvc", "collect_diagnostics",
}  # fmt: skip


def test_builtin_pack_is_found_through_its_entry_point() -> None:
    registry = load_registry()
    assert len(registry) == 37  # the README's "What exists today" row states this number
    assert {spec.name for spec in registry} >= SEED_CATALOGUE
    assert {spec.pack for spec in registry} == {"builtin"}
    assert "drain_node" in registry


def test_duplicate_action_names_both_packs(fake_packs: types.ModuleType) -> None:
    registry = Registry()
    registry.load_entry_points([_point("first", "fake_pack:good")])
    with pytest.raises(RegistryError, match="action 'noop' from pack 'second' is already registered by pack 'first'"):
        registry.load_entry_points([_point("second", "fake_pack:good")])


def test_pack_that_fails_to_import_is_named() -> None:
    with pytest.raises(
        RegistryError,
        match=r"action pack 'ghost' \(no_such_module:register\) failed to load: "
        "ModuleNotFoundError",
    ):
        Registry().load_entry_points([_point("ghost", "no_such_module:register")])


def test_pack_that_is_not_a_function_is_named(fake_packs: types.ModuleType) -> None:
    with pytest.raises(RegistryError, match=r"action pack 'odd' \(fake_pack:not_callable\) is not a register"):
        Registry().load_entry_points([_point("odd", "fake_pack:not_callable")])


def test_pack_whose_register_raises_is_named(fake_packs: types.ModuleType) -> None:
    with pytest.raises(
        RegistryError,
        match=r"action pack 'bad' \(fake_pack:explode\) failed to register its "
        "actions: RuntimeError: boom",
    ):
        Registry().load_entry_points([_point("bad", "fake_pack:explode")])


def test_unknown_action_lists_the_known_ones() -> None:
    registry = Registry()
    registry.add(noop)
    with pytest.raises(UnknownAction, match="unknown action 'nope'; known actions: noop"):
        registry.get("nope")


async def test_invalid_parameters_name_the_field() -> None:
    registry = Registry()
    registry.add(noop)
    ctx = ActionContext(kube=None)  # type: ignore[arg-type]
    with pytest.raises(ActionError) as caught:
        await registry.invoke("noop", {"count": "many"}, ctx)
    assert caught.value.category is ErrorCategory.INVALID
    assert "noop: invalid parameters: count: Input should be a valid integer" in str(caught.value)
    result = await registry.invoke("noop", {"count": 2}, ctx)
    assert result.output == {"count": 2}


def test_actions_list_json_carries_the_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["actions", "list", "--output", "json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert len(actions) >= 20
    for entry in actions:
        assert entry["risk"] in ("read-only", "low", "high", "disruptive"), entry["name"]
        assert isinstance(entry["reversible"], bool)
        assert isinstance(entry["supportsDryRun"], bool)
        assert entry["description"], entry["name"]
        # notify talks only to a webhook, the observability actions only to Prometheus and Alertmanager
        http_only = {"notify", "query_prometheus", "query_alertmanager", "silence_alert", "expire_silence"}
        assert entry["rbac"] or entry["name"] in http_only, entry["name"]
    drain = next(a for a in actions if a["name"] == "drain_node")
    assert {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]} in drain["rbac"]


def test_actions_show_unknown_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["actions", "show", "nope"]) == 1
    assert "unknown action 'nope'" in capsys.readouterr().err


def test_the_plugin_surface_exports_exactly_what_a_pack_needs() -> None:
    import suture.actions

    # Adding a name here is a promise to packs; removing one breaks them. Change with care.
    assert sorted(suture.actions.__all__) == [
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
    for name in suture.actions.__all__:
        assert getattr(suture.actions, name) is not None, name


def test_action_params_take_camel_or_snake_case_and_reject_unknown_keys() -> None:
    from pydantic import ValidationError

    from suture.actions import ActionParams

    class Scale(ActionParams):
        min_replicas: int

    assert Scale.model_validate({"minReplicas": 2}).min_replicas == 2
    assert Scale.model_validate({"min_replicas": 3}).min_replicas == 3
    with pytest.raises(ValidationError, match="minReplica"):
        Scale.model_validate({"minReplicas": 1, "minReplica": 2})
