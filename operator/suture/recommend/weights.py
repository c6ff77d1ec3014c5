"""Which tokens matter: a weight per vector dimension, learned per alert family.

Plain similarity over alert tokens finds "the same pod" rather than "the same
failure": identity tokens (pod, node, workload names) are many and rare, so
they dominate. Each dimension's weight here is

    IDF within the family  x  (floor + relevance learned from outcomes)

where relevance measures how much a token's presence shifts a template's
success rate in this family, shrunk towards zero until the token has been seen
with enough outcomes. Identity tokens seldom recur, so their relevance stays
near zero; ``reason=OOMKilled`` splits the outcomes of ``increase-memory`` and
earns a large weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from suture.recommend.features import Vector

WeightMode = Literal["uniform", "idf", "idf-relevance"]

Array = npt.NDArray[np.float64]


@dataclass
class _Family:
    """Counts of one family: document frequency per dimension and outcomes per (template, dimension)."""

    dim: int
    docs: int = 0
    df: Array = field(init=False)
    templates: dict[str, int] = field(default_factory=dict)
    runs: Array = field(init=False)  # (templates, dim): decided outcomes with the dimension set
    wins: Array = field(init=False)  # (templates, dim): of those, Effective
    total_runs: Array = field(init=False)  # (templates,)
    total_wins: Array = field(init=False)
    cached: Vector | None = None

    def __post_init__(self) -> None:
        self.df = np.zeros(self.dim)
        self.runs = np.zeros((0, self.dim))
        self.wins = np.zeros((0, self.dim))
        self.total_runs = np.zeros(0)
        self.total_wins = np.zeros(0)

    def row(self, template: str) -> int:
        found = self.templates.get(template)
        if found is None:
            found = self.templates[template] = len(self.templates)
            self.runs = np.vstack([self.runs, np.zeros(self.dim)])
            self.wins = np.vstack([self.wins, np.zeros(self.dim)])
            self.total_runs = np.append(self.total_runs, 0.0)
            self.total_wins = np.append(self.total_wins, 0.0)
        return found


class TokenWeights:
    """Learns and serves per-family dimension weights; cheap to update, cached until the next outcome."""

    def __init__(self, *, dim: int, mode: WeightMode = "idf-relevance", floor: float = 0.05, shrink: float = 5.0):
        self.dim = dim
        self.mode: WeightMode = mode
        self.floor = floor
        """Weight share every token keeps before any outcome shows it matters (the cold-start similarity)."""
        self.shrink = shrink
        """Outcomes a token needs before its relevance counts half (shrinkage towards zero)."""
        self._families: dict[str, _Family] = {}

    def observe(self, *, family: str, template: str, vector: Vector, effective: bool) -> None:
        """Count one decided outcome of ``template`` for an alert of ``family`` with ``vector``."""
        fam = self._families.get(family)
        if fam is None:
            fam = self._families[family] = _Family(self.dim)
        present = (vector > 0).astype(np.float64)
        row = fam.row(template)
        fam.docs += 1
        fam.df += present
        fam.runs[row] += present
        fam.total_runs[row] += 1
        if effective:
            fam.wins[row] += present
            fam.total_wins[row] += 1
        fam.cached = None

    def weights(self, family: str) -> Vector:
        """The weight of each dimension for alerts of ``family`` (all ones for an unseen family)."""
        fam = self._families.get(family)
        if fam is None or self.mode == "uniform":
            return np.ones(self.dim, dtype=np.float32)
        if fam.cached is None:
            fam.cached = self._compute(fam).astype(np.float32)
        return fam.cached

    def _compute(self, fam: _Family) -> Array:
        # A dimension no stored alert of the family has cannot match anything; weighting it 0 keeps an
        # alert's never-seen tokens (its own pod name) from diluting every similarity.
        idf = np.where(fam.df > 0, np.log((fam.docs + 1.0) / (fam.df + 1.0)) + 1.0, 0.0)
        if self.mode == "idf":
            return idf
        # How far a template's success rate with the token present strays from its rate overall
        # (Laplace-smoothed). A token on every alert (alert name, namespace key) cannot stray.
        p_in = (fam.wins + 1.0) / (fam.runs + 2.0)
        p_all = (fam.total_wins[:, None] + 1.0) / (fam.total_runs[:, None] + 2.0)
        seen = fam.runs.sum(axis=0)
        shift = (fam.runs * np.abs(p_in - p_all)).sum(axis=0) / np.maximum(seen, 1.0)
        relevance = shift * seen / (seen + self.shrink)
        weights: Array = idf * (self.floor + relevance)
        return weights

    def knows(self, family: str) -> bool:
        """True once an outcome of ``family`` has been counted."""
        return family in self._families

    def relevance_of(self, family: str, dimension: int) -> float:
        """The weight of one dimension (for explanations)."""
        return float(self.weights(family)[dimension])
