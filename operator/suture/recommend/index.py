"""One interface over the stored vectors of past alerts, with the template run and its outcome.

Ranking asks one question of an index: among past alerts of this family where
this template ran, which ``limit`` have the largest dot product with this
(weighted) query vector? Stored vectors are the featurizer's raw 0/1 vectors;
the learned token weights go into the query, so weights can change without
rewriting stored points, and the same query runs on a Qdrant server
(``Distance.DOT`` with a payload filter).

Only decided outcomes (Effective, Ineffective) are indexed: an Unknown teaches
nothing and is kept in the SQL history only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np
import numpy.typing as npt

from suture.recommend.features import Vector


@dataclass(frozen=True)
class Point:
    """One past alert with the template that ran for it and whether it worked."""

    id: str
    """Unique and stable (the recorder derives it from the alert's fingerprint and a sequence number)."""
    family: str
    """The alert name."""
    template: str
    effective: bool
    seq: int
    """Order of recording: larger is more recent."""
    vector: Vector
    fingerprint: str = ""
    version: str = ""
    """The template version that ran (``status.templateVersion.hash``); empty when not known."""


@dataclass(frozen=True)
class Hit:
    """A stored point and its dot product with the query."""

    point: Point
    score: float


class Hits(Sequence[Hit]):
    """Search results, best first, as arrays: ranking reads scores and outcomes without building objects.

    Why arrays: ranking turns every hit into evidence with two numpy
    reductions; only the few it names in an explanation need their point,
    which :meth:`point` builds on demand.
    """

    def __init__(
        self,
        scores: npt.NDArray[np.float32],
        effective: npt.NDArray[np.bool_],
        point_at: Callable[[int], Point],
        seqs: npt.NDArray[np.int64] | None = None,
        versions: Sequence[str] | None = None,
        masses_of: Callable[[Vector], npt.NDArray[np.float64]] | None = None,
    ) -> None:
        self.scores = scores
        self.effective = effective
        self.seqs = np.zeros(len(scores), dtype=np.int64) if seqs is None else seqs
        """Recording order of each hit (larger is more recent)."""
        self.versions: Sequence[str] = [""] * len(scores) if versions is None else versions
        """The template version each hit ran ("" when not known)."""
        self._point_at = point_at
        self._masses_of = masses_of

    def masses(self, weights: Vector) -> npt.NDArray[np.float64]:
        """Each hit's weighted mass, ``weights . vector`` over all its dimensions (the query's and the rest)."""
        if self._masses_of is not None:
            return self._masses_of(weights)
        if len(self) == 0:
            return np.zeros(0)
        stacked = np.stack([self._point_at(i).vector for i in range(len(self))]).astype(np.float64)
        masses: npt.NDArray[np.float64] = stacked @ weights.astype(np.float64)
        return masses

    @classmethod
    def of(cls, hits: Sequence[Hit]) -> Hits:
        """Wrap already built hits (indexes that return whole points, like Qdrant)."""
        listed = list(hits)
        return cls(
            np.asarray([h.score for h in listed], dtype=np.float32),
            np.asarray([h.point.effective for h in listed], dtype=np.bool_),
            lambda i: listed[i].point,
            np.asarray([h.point.seq for h in listed], dtype=np.int64),
            [h.point.version for h in listed],
        )

    def point(self, i: int) -> Point:
        """The ``i``-th best hit's point."""
        return self._point_at(i)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @overload
    def __getitem__(self, i: int) -> Hit: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Hit]: ...
    def __getitem__(self, i: int | slice) -> Hit | Sequence[Hit]:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return Hit(point=self._point_at(i), score=float(self.scores[i]))


class VectorIndex(Protocol):
    """Where past alerts live. Implementations: :class:`NumpyIndex` (embedded), :class:`QdrantIndex`."""

    def add(self, point: Point) -> None:
        """Store ``point``; durable when this returns if the index is persistent. Adding an id twice keeps one."""
        ...

    def search(self, query: Vector, *, family: str, template: str, limit: int, norms: Vector | None = None) -> Hits:
        """The ``limit`` points of ``family`` and ``template`` with the largest score, best first.

        The score is the dot product with ``query``; with ``norms``, it is divided by
        each stored vector's length under those squared weights, sqrt(x . norms),
        which makes it a weighted cosine (times the query's length).
        """
        ...

    def points(self) -> Iterator[Point]:
        """Every stored point, in recording order (replayed at start-up to rebuild token statistics)."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None:
        """Release files and connections; idempotent."""
        ...
