"""The checked-in CRDs are exactly what the models generate, and structurally sound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from suture.crdgen import POLICY_FILE, all_crds, all_manifests, render

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("filename", sorted(all_crds()))
def test_checked_in_crd_matches_the_models(filename: str) -> None:
    path = CRD_DIR / filename
    assert path.exists(), f"{path} is missing: run `make crds`"
    assert path.read_text() == render(all_crds()[filename]), f"{path} is out of date: run `make crds`"


def test_no_stray_files_in_crds() -> None:
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == sorted(all_manifests())


def test_checked_in_policy_matches_the_code() -> None:
    assert (CRD_DIR / POLICY_FILE).read_text() == all_manifests()[POLICY_FILE], "run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, value in node.items():
            out.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_walk(value, f"{path}[{i}]"))
    return out


@pytest.mark.parametrize("filename", sorted(all_crds()))
def test_schema_is_structural(filename: str) -> None:
    crd = yaml.safe_load((CRD_DIR / filename).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "$defs", "const", "title"):
            assert forbidden not in node or path.endswith(".properties"), f"{forbidden} at {path}"
        if path.endswith(".properties") or path.endswith("x-kubernetes-validations"):
            continue
        if "properties" in node or "items" in node:
            assert "type" in node, f"no type at {path}"


def test_remediation_printer_columns() -> None:
    crd = all_crds()["remediations.suture.dev.yaml"]
    names = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    # Outcome: status.verification.outcome, written by suture.verify after a run succeeds.
    assert names == ["Alert", "Template", "Target", "Phase", "Outcome", "Age"]
    assert crd["spec"]["names"]["categories"] == ["suture"]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


@pytest.mark.parametrize("filename", ["workflowtemplates.suture.dev.yaml", "clusterworkflowtemplates.suture.dev.yaml"])
def test_template_printer_columns_show_only_what_the_operator_writes(filename: str) -> None:
    crd = all_crds()[filename]
    names = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    # Runs, Effective and Last: status.stats; Failing: the condition; both written by suture.verify after
    # each decided run (suture.verify.template_status).
    assert names == ["Valid", "Runs", "Effective", "Last", "Failing", "Age"]
