"""Scoring candidates: effectiveness learned from similar past alerts, with a prior for cold start.

For a candidate template and an alert of family F:

1. Search F's past alerts where that template ran, with the query weighted by
   :class:`~suture.recommend.weights.TokenWeights`. A neighbour's similarity is
   the weighted mass it shares with the query, divided by the query's mass plus
   ``extra_weight`` (0.15) times the weighted mass of the tokens it has and this
   alert lacks (0..1): a past alert that carried a telling token (OOMKilled)
   this one lacks is less like it, which plain containment could not see.
2. Each of the ``neighbours`` nearest counts ``similarity ** sharpness`` as
   evidence, Effective or Ineffective, on top of a Beta prior whose mean is 0.5
   nudged by the template's ``priority`` and its words' overlap with the alert,
   with ``prior_strength`` pseudo-counts (1: Beta(0.5, 0.5) without nudges).
3. The score is the posterior mean (``choose="mean"``, deterministic), or a draw
   from the posterior (``choose="thompson"``, seeded). The mean is the default:
   on the learning benchmark it wins, and an untried template's optimistic 0.5
   already gets it tried once others fail (see benchmarks/learning/README.md).

Pooling across families (``pool=True``, the default) happens only where F has
no evidence for the template: it then borrows its success rate in other
families as one pseudo-count. On the benchmark this lifted last-500 success by
1 to 2 points; pooling more (empirical-Bayes priors) removes the optimism
exploration relies on.

Template versions: a candidate given as a template object carries its current
version (the spec's hash, :func:`suture.api.spec_hash`), and every outcome keeps
the version that ran. Evidence from the candidate's current version counts
fully; evidence from any other version (or one recorded without a version)
counts ``older_version_weight`` (0.5): an edit keeps what was learned, and the
new version's own record outweighs it as it accumulates. A candidate given by
name has no version, and nothing is discounted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from suture.recommend.alerts import Candidate
from suture.recommend.features import Vector
from suture.recommend.index import Hits
from suture.recommend.weights import Relevance, WeightMode

Choose = Literal["mean", "thompson", "ucb"]
Similarity = Literal["cosine", "containment"]
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")
SHOWN_NEIGHBOURS = 5


@dataclass(frozen=True)
class Policy:
    """How ranking turns evidence into a score. The defaults are what the learning benchmark chose."""

    choose: Choose = "mean"
    """``mean``: posterior mean, deterministic. ``thompson``: a seeded draw from the posterior."""
    ucb_width: float = 1.0
    """With ``choose="ucb"``: posterior standard deviations added to the mean."""
    neighbours: int = 20
    """Past alerts per template that count as evidence."""
    sharpness: float = 4.0
    """Evidence of a neighbour = similarity ** sharpness: near-identical failures count, loose ones barely."""
    prior_strength: float = 1.0
    """Pseudo-counts of the prior. With mean 0.5, 1 is Beta(0.5,0.5): an untried template keeps the optimistic
    mean 0.5 that gets it tried, and one similar failure says more than under Beta(1,1) (2 pseudo-counts),
    which measured slightly lower on the learning benchmark (0.4 points over 10 seeds)."""
    priority_weight: float = 0.1
    """Prior mean shift at priority 100 (and the reverse at -100)."""
    text_weight: float = 0.05
    """Prior mean shift when every word of the template's description appears in the alert."""
    pool: bool = True
    """Borrow a template's rate from other families (one pseudo-count) when this family has no evidence for it."""
    weights: WeightMode = "idf-relevance"
    """How dimensions are weighted (``uniform`` and ``idf`` exist to measure against)."""
    floor: float = 0.05
    """Weight share (x IDF) a token has before outcomes show whether it matters; see TokenWeights."""
    shrink: float = 5.0
    """Outcomes a token needs before its learned relevance counts half."""
    relevance: Relevance = "phi"
    """The statistic behind a token's learned relevance (see TokenWeights). ``phi`` (the correlation of the token's
    presence with the outcome, which reads its absence too) beat ``shift`` (the rate with the token against the
    overall rate) by 1.0 +- 0.3 points of the ceiling on the learning benchmark (60 development seeds, paired);
    ``contrast`` (the rate with against without) by 0.55 +- 0.26."""
    stats_window: int | None = None
    """Count only each family's last N outcomes in token statistics (IDF and relevance); None: all of them.
    Bounded work per outcome (one subtraction); see benchmarks/learning/README.md for 100."""
    extra_weight: float = 0.15
    """With ``containment``: how much a past alert's weighted tokens that this alert lacks dilute its similarity
    (0: not at all; 1: weighted Jaccard, shared / (this alert's + the extras)). On the learning benchmark
    (60 development seeds, paired) 0.15 gained 1.0 +- 0.3 points of the ceiling, 0.3 0.6 +- 0.4, 0.5 nothing;
    with ``phi`` relevance the two together gained more than either (benchmarks/learning/README.md)."""
    half_life: float | None = None
    """Outcomes (of any alert) after which a past outcome's evidence counts half; None: never fades.
    Measured on the learning benchmark's development seeds (21-30): 300 cost about 1 point, so off."""
    similarity: Similarity = "containment"
    """``containment``: the share of this alert's weighted tokens the past alert has (blind to its extras).
    ``cosine`` (weighted): a past alert's extra tokens count against it; about 5 points worse on the benchmark."""
    outcome_model: bool = False
    """Also fit a Bayesian logistic model per (family, template) over the alert's features
    (:mod:`suture.recommend.outcome_model`); its prediction becomes the Beta prior's mean, worth
    ``model_strength`` pseudo-counts, under the neighbour evidence. Off: on the learning benchmark it gained
    1.1 points on development seeds 21-30 and lost 1.1 on 41-60 (noise, at twice the ranking cost)."""
    model_strength: float = 2.0
    """With ``outcome_model``: pseudo-counts the model's prediction is worth."""
    model_drift: float = 0.0
    """With ``outcome_model``: variance added to every weight before each outcome, so old outcomes fade
    (a random walk on the weights). 0.02 gained 2.5 points on seeds 21-30, lost 0.5 on 31-40 and 1.5 on 41-60."""
    older_version_weight: float = 0.5
    """What an outcome of another version of the template counts, next to one of the candidate's current version
    (1). 0.5: an edit halves the weight of the old record rather than erasing it (a fix to one step rarely makes
    the rest wrong), and two outcomes of the new version outweigh one old. Applies only to candidates that carry
    a version (template objects); the learning benchmark ranks names, so it is untouched by this setting."""


@dataclass(frozen=True)
class Neighbour:
    """A past alert that counted as evidence."""

    fingerprint: str
    template: str
    outcome: Literal["Effective", "Ineffective"]
    similarity: float
    """Share of this alert's weighted features the past alert shares (0..1)."""


@dataclass(frozen=True)
class Ranked:
    """One candidate's place in a ranking, with why."""

    template: str
    score: float
    """What the order was decided by (posterior mean, or the Thompson draw)."""
    mean: float
    """Posterior mean probability that this template resolves this alert."""
    evidence: float
    """Similarity-weighted count of past outcomes behind the mean (0 = prior only)."""
    prior: float
    """The prior mean (priority and own text) before any evidence."""
    neighbours: tuple[Neighbour, ...] = ()
    """The nearest past alerts that counted (at most five), nearest first."""
    reasons: tuple[str, ...] = ()
    features: tuple[tuple[str, float], ...] = ()
    """The alert's features that weigh most in this family, with their weights."""
    context: tuple[tuple[str, float], ...] = ()
    """The live-context features (``ctx:...``) of the alert with their weights in this family (1.0 before any
    outcome of it): what the target's state contributed to the choice."""

    @property
    def confidence(self) -> float:
        """0..1: how much evidence (not how good): evidence / (evidence + 4)."""
        return self.evidence / (self.evidence + 4.0)


@dataclass
class Evidence:
    """Similarity-weighted outcomes for one template."""

    wins: float = 0.0
    losses: float = 0.0
    neighbours: list[Neighbour] = field(default_factory=list)
    """The nearest few, for explanations."""
    count: int = 0
    """How many past alerts counted."""
    version: str = ""
    """The candidate's current version ("" when ranked by name: versions not told apart)."""
    current: int = 0
    """Of ``count``, how many ran ``version``."""
    older: int = 0
    """Of ``count``, how many ran another version (or one not recorded); their evidence was discounted."""

    @property
    def total(self) -> float:
        return self.wins + self.losses


def gather(
    hits: Hits,
    *,
    query_mass: float,
    sharpness: float,
    weights: Vector | None = None,
    extra_weight: float = 0.0,
    now: int = 0,
    half_life: float | None = None,
    version: str = "",
    older_version_weight: float = 1.0,
) -> Evidence:
    """Turn index hits into weighted evidence; similarity = hit score / ``query_mass`` (see weighted_query).

    With ``half_life``, a hit recorded ``half_life`` outcomes before ``now`` counts half: causes drift.
    With ``version``, a hit of another template version counts ``older_version_weight`` times its weight.
    """
    ev = Evidence(version=version)
    if query_mass <= 0 or len(hits) == 0:
        return ev
    if extra_weight > 0 and weights is not None:
        # What the past alert has beyond this alert's tokens (its weighted mass outside the query) dilutes
        # the similarity: at 1 it is the weighted Jaccard index, at 0 plain containment.
        shared = hits.scores.astype(np.float64)
        extras = np.maximum(hits.masses(weights) - shared, 0.0)
        similarity = np.clip(shared / (query_mass + extra_weight * extras), 0.0, 1.0)
    else:
        similarity = np.clip(hits.scores.astype(np.float64) / query_mass, 0.0, 1.0)
    weight = similarity**sharpness
    if half_life:
        weight = weight * 0.5 ** (np.maximum(now - hits.seqs, 0) / half_life)
    if version:
        current = np.asarray([v == version for v in hits.versions], dtype=np.bool_)
        weight = np.where(current, weight, weight * older_version_weight)
        ev.current = int(current.sum())
        ev.older = len(hits) - ev.current
    ev.wins = float(weight[hits.effective].sum())
    ev.losses = float(weight[~hits.effective].sum())
    # Explanations name a few, nearest first; their points are built only for those.
    shown = np.argsort(-similarity, kind="stable")[:SHOWN_NEIGHBOURS].tolist()
    for i in shown:
        point = hits.point(i)
        ev.neighbours.append(
            Neighbour(
                fingerprint=point.fingerprint or point.id,
                template=point.template,
                outcome="Effective" if point.effective else "Ineffective",
                similarity=round(float(similarity[i]), 4),
            )
        )
    ev.count = len(hits)
    return ev


def text_overlap(candidate: Candidate, alert_tokens: tuple[str, ...]) -> float:
    """Share of the template's own words that appear among the alert's words (0..1)."""
    words = set(_WORD.findall(candidate.text.lower()))
    if not words:
        return 0.0
    alert_words = {t.split("=", 1)[-1].split(":", 1)[-1].lower() for t in alert_tokens}
    alert_words |= {w for t in alert_tokens for w in _WORD.findall(t.lower())}
    return len(words & alert_words) / len(words)


def prior_mean(candidate: Candidate, alert_tokens: tuple[str, ...], policy: Policy) -> float:
    """0.5 nudged by priority and by the template's words found in the alert; stays within 0.05..0.95."""
    mean = 0.5 + policy.priority_weight * candidate.priority / 100.0
    mean += policy.text_weight * text_overlap(candidate, alert_tokens)
    return float(min(max(mean, 0.05), 0.95))


def posterior(
    *, prior: float, evidence: Evidence, pooled: tuple[float, float] | None, policy: Policy
) -> tuple[float, float]:
    """(alpha, beta) of the Beta posterior. ``pooled`` is (wins, runs) of this template in other families."""
    alpha = policy.prior_strength * prior + evidence.wins
    beta = policy.prior_strength * (1.0 - prior) + evidence.losses
    if pooled is not None and evidence.total == 0 and pooled[1] > 0:
        rate = pooled[0] / pooled[1]
        alpha += rate
        beta += 1.0 - rate
    return alpha, beta


def score(alpha: float, beta: float, *, policy: Policy, rng: np.random.Generator) -> float:
    """The ranking score: posterior mean, a posterior draw (Thompson), or mean + width x sd (UCB)."""
    mean = alpha / (alpha + beta)
    if policy.choose == "thompson":
        return float(rng.beta(alpha, beta))
    if policy.choose == "ucb":
        sd = math.sqrt(mean * (1.0 - mean) / (alpha + beta + 1.0))
        return mean + policy.ucb_width * sd
    return mean


def weighted_query(vector: Vector, weights: Vector, similarity: Similarity) -> tuple[Vector, Vector | None, float]:
    """(query, norms, scale) for the index: a hit's score / scale is its similarity in 0..1.

    Stored vectors are 0/1 and unweighted. Containment: query = w*q, scale = its
    sum. Cosine: query = w^2*q, the index divides by each row's weighted length
    (norms = w^2), scale = the query's weighted length.
    """
    if similarity == "containment":
        query = (vector * weights).astype(np.float32)
        return query, None, float(query.sum())
    squared = (weights * weights).astype(np.float32)
    query = (vector * squared).astype(np.float32)
    return query, squared, float(np.sqrt(float((vector * vector * squared).sum())))
