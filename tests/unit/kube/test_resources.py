"""Kinds resolve through a fixed table or explicit registration; text is checked before it becomes a path."""

from __future__ import annotations

import pytest

from suture.kube import (
    InvalidReference,
    ResourceInfo,
    ResourceTable,
    UnknownKind,
    register_kind,
    resource_info,
    resources,
)


def test_every_kind_the_actions_use_is_in_the_table() -> None:
    assert resource_info("Deployment").collection_path("shop") == "/apis/apps/v1/namespaces/shop/deployments"
    assert resource_info("Node").object_path("n1", None) == "/api/v1/nodes/n1"
    assert resource_info("Event").api_version == "v1"  # the core Event wins when no apiVersion is given
    assert resource_info("Event", "events.k8s.io/v1").group == "events.k8s.io"
    assert resource_info("Pod").object_path("p", "shop", subresource="log") == "/api/v1/namespaces/shop/pods/p/log"


def test_a_namespaced_kind_without_a_namespace_is_refused() -> None:
    with pytest.raises(InvalidReference, match="namespaced"):
        resource_info("Pod").object_path("p", None)


def test_a_cluster_scoped_kind_ignores_the_namespace() -> None:
    assert resource_info("Node").collection_path("shop") == "/api/v1/nodes"


def test_unknown_kinds_are_an_error_not_a_guessed_plural() -> None:
    with pytest.raises(UnknownKind, match="register it"):
        resource_info("Widget", "example.com/v1")
    with pytest.raises(UnknownKind, match="give its apiVersion"):
        resource_info("Widget")


def test_a_registered_kind_resolves_in_its_own_table_only() -> None:
    table = ResourceTable()
    widget = ResourceInfo("example.com/v1", "Widget", "widgets", True)
    table.register(widget)
    table.register(widget)  # again: nothing changes
    assert table.lookup("Widget") is widget
    assert widget in table.entries()
    assert table.lookup("Widget", "example.com/v1") == widget
    with pytest.raises(UnknownKind):
        resource_info("Widget", "example.com/v1")
    with pytest.raises(ValueError, match="already registered"):
        table.register(ResourceInfo("example.com/v1", "Widget", "gadgets", True))


@pytest.mark.parametrize(
    ("api_version", "kind", "plural"),
    [
        ("apps/v1/x", "Widget", "widgets"),
        ("../v1", "Widget", "widgets"),
        ("a..b/v1", "Widget", "widgets"),
        ("Apps/v1", "Widget", "widgets"),
        ("v1", "Wid/get", "widgets"),
        ("v1", "", "widgets"),
        ("v1", "Widget", "wid/gets"),
        ("v1", "Widget", "Widgets"),
    ],
)
def test_malformed_coordinates_are_refused(api_version: str, kind: str, plural: str) -> None:
    with pytest.raises(InvalidReference):
        ResourceInfo(api_version, kind, plural, True)


@pytest.mark.parametrize("name", ["system:controller:x", "web-1.abc", "Mixed_Case", "a" * 253])
def test_names_the_api_allows_are_accepted(name: str) -> None:
    assert resource_info("ClusterRole").object_path(name, None).endswith("/" + name)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a%2Fb", "a?b", "a b", "a" * 254, ".hidden"])
def test_names_that_could_escape_the_path_are_refused(name: str) -> None:
    with pytest.raises(InvalidReference, match="not a valid object name"):
        resource_info("ConfigMap").object_path(name, "shop")


def test_register_kind_adds_to_the_process_wide_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "KINDS", ResourceTable())  # a fresh process-wide table for this test only
    info = register_kind(api_version="test.suture.dev/v1", kind="Probe", plural="probes", namespaced=False)
    assert resource_info("Probe", "test.suture.dev/v1") == info
    assert resource_info("Probe").object_path("p", None) == "/apis/test.suture.dev/v1/probes/p"
