"""Recommendation and learning: rank the templates that match an alert, learn from outcomes.

    from suture.recommend import Recommender
    r = Recommender.in_memory(seed=7)
    ranked = r.rank(alert, candidates)          # best first; .template, .score, .reasons
    r.record_outcome(alert, ranked[0].template, "Effective")

See :mod:`suture.recommend.ranking` for how scores are made and
:mod:`suture.recommend.weights` for why identity tokens do not dominate.
"""

from suture.recommend.alerts import OUTCOMES, AlertView, Candidate, Context, Outcome
from suture.recommend.explain import recommendation
from suture.recommend.features import Features, Featurizer, HashingFeaturizer
from suture.recommend.index import Hit, Hits, Point, VectorIndex
from suture.recommend.numpy_index import IndexLockedError, NumpyIndex
from suture.recommend.ranking import Neighbour, Policy, Ranked
from suture.recommend.recommender import Recommender

__all__ = [
    "OUTCOMES",
    "AlertView",
    "Candidate",
    "Context",
    "Features",
    "Featurizer",
    "HashingFeaturizer",
    "Hit",
    "Hits",
    "IndexLockedError",
    "Neighbour",
    "NumpyIndex",
    "Outcome",
    "Point",
    "Policy",
    "Ranked",
    "Recommender",
    "VectorIndex",
    "recommendation",
]
