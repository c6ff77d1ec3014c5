"""Helpers of the built-in pack that now lean on one source: quantities and label selectors."""

from __future__ import annotations

from typing import Any

import pytest

from suture.actions import LabelSelector
from suture_actions.diagnostics import _selector
from suture_actions.quarantine import _selecting_keys
from suture_actions.storage import _format_bytes, _parse_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [("10Gi", 10 * 2**30), ("500M", 500 * 10**6), ("1e9", 10**9), ("1.5Ki", 1536), ("1500m", 2), (" 2Mi ", 2 * 2**20)],
)
def test_storage_sizes_parse_to_whole_bytes_rounded_up(text: str, size: int) -> None:
    assert _parse_bytes(text) == size


@pytest.mark.parametrize("text", ["-1Gi", "10 Gi", "ten", "1e3Ki", ""])
def test_storage_sizes_refuse_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        _parse_bytes(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [(2 * 2**30, "2Gi"), (500 * 10**6, "500M"), (1024000, "1024k"), (1000 * 2**30, "1000Gi"), (1234, "1234"), (0, "0")],
)
def test_storage_sizes_format_in_their_shortest_exact_form(size: int, text: str) -> None:
    assert _format_bytes(size) == text


@pytest.mark.parametrize(
    ("spec", "query"),
    [
        ({"selector": {"app": "web", "tier": "front"}}, "app=web,tier=front"),
        (
            {
                "selector": {
                    "matchLabels": {"app": "web"},
                    "matchExpressions": [
                        {"key": "track", "operator": "In", "values": ["a", "b"]},
                        {"key": "canary", "operator": "DoesNotExist"},
                    ],
                }
            },
            "app=web,track in (a,b),!canary",
        ),
        ({"selector": {}}, None),
        ({}, None),
        ({"selector": {"matchExpressions": [{"key": "x", "operator": "Near"}]}}, None),
    ],
)
def test_diagnostics_lists_pods_with_the_selector_text_label_selector_builds(
    spec: dict[str, Any], query: str | None
) -> None:
    assert _selector({"spec": spec}) == query


def test_quarantine_removes_the_labels_a_selector_needs_present() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "track", "operator": "In", "values": ["a"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["z"]},
            ],
        }
    )
    assert _selecting_keys(selector) == {"app", "track", "gpu"}
