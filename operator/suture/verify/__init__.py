"""Verification and learning: did a succeeded run make its alert go away, and what does that teach?

:class:`Verifier` decides the outcome of Remediations in phase ``Verifying``
(Effective, Ineffective or Unknown) from the receiver's resolved notification
or Alertmanager's API; :class:`RecommenderLearner` hands every outcome to the
recommender.
"""

from suture.verify.alertmanager import (
    AlertmanagerUnavailable,
    AlertSource,
    HttpAlertmanager,
    matchers,
    quote_matcher_value,
)
from suture.verify.learner import HistoryLearner, RecommenderLearner
from suture.verify.verifier import Verdict, Verifier

__all__ = [
    "AlertSource",
    "AlertmanagerUnavailable",
    "HistoryLearner",
    "HttpAlertmanager",
    "RecommenderLearner",
    "Verdict",
    "Verifier",
    "matchers",
    "quote_matcher_value",
]
