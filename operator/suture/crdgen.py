"""Generate CustomResourceDefinitions from the pydantic models in :mod:`suture.api`.

Pydantic emits JSON Schema (2020-12); the API server wants a *structural*
OpenAPI v3 schema: no ``$ref``, no ``anyOf`` for optionality, no
``additionalProperties: false`` and explicit preserve-unknown-fields where the
shape is open. :func:`structural` does that translation and nothing more, so
everything the CRD says was said once, on the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from suture.admission import approval_stamp_policy
from suture.api import GROUP, RESOURCE_MODELS, VERSION

_DROP_KEYS = {"title", "$defs", "additionalProperties_false"}

SHORT_NAMES = {
    "WorkflowTemplate": ["wft"],
    "ClusterWorkflowTemplate": ["cwft"],
    "Remediation": ["rem"],
}


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate one pydantic JSON schema node into a structural OpenAPI v3 node."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            if rest.get("default", 0) is None:
                rest.pop("default")
            return structural({**options[0], **rest}, defs)
        raise ValueError(f"cannot express a union of {len(options)} types in a structural schema: {schema}")

    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROP_KEYS:
            continue
        if key == "properties":
            out["properties"] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict) and value:
                out["additionalProperties"] = structural(value, defs)
            # `false` (extra="forbid") is the API server's pruning; `{}` is "any".
        elif key == "const":
            out["enum"] = [value]
        elif key == "default" and value in ({}, []):
            continue  # empty defaults only add noise to every stored object
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def crd_for(model: type[BaseModel]) -> dict[str, Any]:
    """The CustomResourceDefinition of one resource model."""
    kind: str = model.KIND  # type: ignore[attr-defined]
    plural: str = model.PLURAL  # type: ignore[attr-defined]
    scope: str = model.SCOPE  # type: ignore[attr-defined]
    columns: list[dict[str, Any]] = model.PRINTER_COLUMNS  # type: ignore[attr-defined]
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema = structural(raw)
    props = schema["properties"]
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"type": "object"}
    schema["required"] = ["spec"]
    schema.pop("description", None)
    schema["description"] = (model.__doc__ or kind).strip().splitlines()[0]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "suture"}},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": SHORT_NAMES[kind],
                "categories": ["suture"],
            },
            "scope": scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, for every resource model."""
    crds = {}
    for model in RESOURCE_MODELS:
        crd = crd_for(model)
        crds[f"{crd['metadata']['name']}.yaml"] = crd
    return crds


POLICY_FILE = "approval-policy.suture.dev.yaml"
_HEADER = "# Generated from suture.api and suture.admission by `make crds`. Do not edit.\n"


def render(crd: dict[str, Any]) -> str:
    """Serialise a CRD as the YAML checked in under crds/."""
    return _HEADER + yaml.safe_dump(crd, sort_keys=False, width=120)


def all_manifests() -> dict[str, str]:
    """File name -> YAML text of everything under crds/: the CRDs and the admission policy."""
    files = {name: render(crd) for name, crd in all_crds().items()}
    files[POLICY_FILE] = _HEADER + yaml.safe_dump_all(approval_stamp_policy(), sort_keys=False, width=120)
    return files


def write_crds(directory: Path) -> list[Path]:
    """Write every generated manifest into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in all_manifests().items():
        path = directory / filename
        path.write_text(text)
        written.append(path)
    return written
