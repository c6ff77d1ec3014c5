"""Which tokens matter: a weight per vector dimension, learned per alert family.

Plain similarity over alert tokens finds "the same pod" rather than "the same
failure": identity tokens (pod, node, workload names) are many and rare, so
they dominate. Each dimension's weight here is

    IDF within the family  x  (floor + relevance learned from outcomes)

where relevance measures how much a token tells about a template's outcomes
in this family (by default the phi coefficient of the token's presence and the
outcome, averaged over templates), shrunk towards zero until the token has been
seen with enough outcomes. Identity tokens seldom recur, so their relevance
stays near zero; ``reason=OOMKilled`` splits the outcomes of
``increase-memory`` and earns a large weight.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from suture.recommend.features import Vector

WeightMode = Literal["uniform", "idf", "idf-relevance"]
Relevance = Literal["shift", "contrast", "phi"]

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
    recent: deque[tuple[int, npt.NDArray[np.intp], bool]] = field(default_factory=deque)
    """With a window: (template row, dimensions set, effective) of the outcomes still counted, oldest first."""

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

    def __init__(
        self,
        *,
        dim: int,
        mode: WeightMode = "idf-relevance",
        floor: float = 0.05,
        shrink: float = 5.0,
        relevance: Relevance = "phi",
        window: int | None = None,
    ):
        self.dim = dim
        self.mode: WeightMode = mode
        self.relevance: Relevance = relevance
        """The statistic of a token's relevance; see :meth:`_relevance`."""
        self.window = window
        """Count only each family's last ``window`` outcomes (IDF and relevance follow drift); None: all."""
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
        used = np.flatnonzero(vector > 0)
        row = fam.row(template)
        self._count(fam, row, used, effective, 1.0)
        if self.window is not None:
            fam.recent.append((row, used, effective))
            while len(fam.recent) > self.window:
                self._count(fam, *fam.recent.popleft(), -1.0)
        fam.cached = None

    @staticmethod
    def _count(fam: _Family, row: int, used: npt.NDArray[np.intp], effective: bool, sign: float) -> None:
        # Sparse updates: an outcome touches only the ~30 dimensions its alert sets (bounded work per outcome).
        fam.docs += int(sign)
        fam.df[used] += sign
        fam.runs[row, used] += sign
        fam.total_runs[row] += sign
        if effective:
            fam.wins[row, used] += sign
            fam.total_wins[row] += sign

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
        effect, size = self._effects(fam)
        seen = size.sum(axis=0)
        relevance = (size * effect).sum(axis=0) / np.maximum(seen, 1e-9)
        weights: Array = idf * (self.floor + relevance * seen / (seen + self.shrink))
        return weights

    def _effects(self, fam: _Family) -> tuple[Array, Array]:
        """Per (template, dimension), 0..1: how much the token tells about the template's outcomes, and on how many.

        ``shift``: how far a template's success rate with the token present strays
        from its rate overall (Laplace-smoothed), averaged over templates by runs
        with the token. A token on every alert (alert name) cannot stray.
        ``contrast``: the rate with the token present against the rate with it
        absent, averaged by the contrast's effective sample size n_in*n_out/n, so
        a token on most alerts whose absence matters still counts, and one on
        every alert counts nothing. ``phi``: the correlation between the token's
        presence and the outcome (the chi-square statistic scaled to 0..1 by n),
        which reads presence and absence alike.
        Returned as (effect, sample size); a token's relevance is the size-weighted
        mean effect over templates, shrunk towards 0 with ``shrink`` outcomes behind
        it counting half.
        """
        runs, wins = np.maximum(fam.runs, 0.0), np.maximum(fam.wins, 0.0)
        total_runs, total_wins = fam.total_runs[:, None], fam.total_wins[:, None]
        if self.relevance == "shift":
            p_in = (wins + 1.0) / (runs + 2.0)
            p_all = (total_wins + 1.0) / (total_runs + 2.0)
            return np.abs(p_in - p_all), runs
        out_runs = np.maximum(total_runs - runs, 0.0)
        out_wins = np.maximum(total_wins - wins, 0.0)
        if self.relevance == "contrast":
            effect = np.abs((wins + 1.0) / (runs + 2.0) - (out_wins + 1.0) / (out_runs + 2.0))
            size = runs * out_runs / np.maximum(total_runs, 1.0)
        else:
            # phi = (n11 n00 - n10 n01) / sqrt(n1. n0. n.1 n.0), with half a count in every cell.
            a, b = wins + 0.5, runs - wins + 0.5
            c, d = out_wins + 0.5, out_runs - out_wins + 0.5
            effect = np.abs(a * d - b * c) / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
            size = np.broadcast_to(total_runs, runs.shape) * (runs > 0) * (out_runs > 0)
        return effect, size

    def knows(self, family: str) -> bool:
        """True once an outcome of ``family`` has been counted."""
        return family in self._families

    def relevance_of(self, family: str, dimension: int) -> float:
        """The weight of one dimension (for explanations)."""
        return float(self.weights(family)[dimension])
