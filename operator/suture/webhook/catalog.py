"""The templates the receiver can choose from, as kopf's index holds them.

kopf calls :func:`index_entry` for every WorkflowTemplate and
ClusterWorkflowTemplate it sees and keeps the result current; the receiver
reads the entries through the :class:`TemplateCatalog` protocol, so this box
never imports kopf. Matching is ``AlertMatch.admits``: one rule, one place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from suture.api import WorkflowTemplateSpec

TemplateKind = Literal["WorkflowTemplate", "ClusterWorkflowTemplate"]


@dataclass(frozen=True)
class IndexedTemplate:
    """One template as last seen: its spec, and whether the operator found it Valid for this generation."""

    kind: TemplateKind
    namespace: str | None
    name: str
    uid: str
    generation: int | None
    valid: bool
    spec: WorkflowTemplateSpec | None

    @property
    def metadata(self) -> dict[str, Any]:
        """``{"name", "namespace", "generation"}``, so rankers that read a template object's metadata accept an
        entry as is."""
        return {"name": self.name, "namespace": self.namespace, "generation": self.generation}

    def display(self) -> str:
        """``Kind/namespace/name`` for reasons and logs."""
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


class TemplateCatalog(Protocol):
    """What the receiver needs of the template index."""

    @property
    def synced(self) -> bool:
        """True once the index holds every template the API server had when the operator started."""

    def templates(self) -> Iterable[IndexedTemplate]:
        """Every template currently known (valid or not)."""


class IndexCatalog:
    """The catalog over kopf's indexes (mappings of a key to a collection of entries), kept current by kopf."""

    def __init__(self, indexes: Sequence[Mapping[Any, Collection[IndexedTemplate]]]) -> None:
        self._indexes = list(indexes)
        self._synced = False

    @property
    def synced(self) -> bool:
        """Set by :meth:`mark_synced` once the start-up listing is in the index."""
        return self._synced

    def mark_synced(self) -> None:
        """The index has caught up with the API server's listing at start-up."""
        self._synced = True

    def templates(self) -> Iterable[IndexedTemplate]:
        """Every entry of every index, as kopf holds them right now."""
        return [entry for index in self._indexes for store in list(index.values()) for entry in store]


def _valid_now(body: Mapping[str, Any]) -> bool:
    generation = (body.get("metadata") or {}).get("generation")
    for condition in (body.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Valid":
            return condition.get("status") == "True" and condition.get("observedGeneration") == generation
    return False


def index_entry(body: Mapping[str, Any]) -> IndexedTemplate:
    """The index entry of a template object; never raises (a spec that does not parse is simply not valid)."""
    meta = body.get("metadata") or {}
    cluster = body.get("kind") == "ClusterWorkflowTemplate"
    kind: TemplateKind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
    try:
        spec: WorkflowTemplateSpec | None = WorkflowTemplateSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        spec = None
    return IndexedTemplate(
        kind=kind,
        namespace=meta.get("namespace") if kind == "WorkflowTemplate" else None,
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        valid=spec is not None and _valid_now(body),
        spec=spec,
    )


def candidates(
    templates: Iterable[IndexedTemplate], *, labels: Mapping[str, str], namespace: str | None
) -> list[IndexedTemplate]:
    """The Valid templates whose ``match`` admits an alert with ``labels``.

    ``namespace`` is the namespace the alert is about (its validated
    ``namespace`` label); a namespaced template is a candidate only for alerts
    in its own namespace, a cluster template for any alert.
    """
    found = []
    plain = dict(labels)
    for entry in templates:
        if not entry.valid or entry.spec is None:
            continue
        if entry.kind == "WorkflowTemplate" and entry.namespace != namespace:
            continue
        if entry.spec.match.admits(plain):
            found.append(entry)
    return found


class StaticCatalog:
    """A fixed list of templates: for tests and benchmarks."""

    synced = True

    def __init__(self, templates: Iterable[IndexedTemplate] = ()) -> None:
        self.entries = list(templates)

    def templates(self) -> Iterable[IndexedTemplate]:
        """The entries given."""
        return list(self.entries)
