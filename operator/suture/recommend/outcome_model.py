"""A Bayesian logistic model per (alert family, template): P(effective | the alert's features).

Why, next to the neighbour evidence of :mod:`suture.recommend.ranking`: a
neighbour search sees what a past alert shares with this one, not what it
lacks, and with few close neighbours its evidence is thin. A logistic model
reads every feature of the alert at once, absent ones included (an alert
without ``ctx:reason=OOMKilled`` sits at the model's intercept, which has learned
what such alerts need), and pools all outcomes of the template in the family.

The posterior over the weights is Gaussian, updated online one outcome at a
time (the Laplace/extended-Kalman update: a rank-one change of the covariance
by Sherman-Morrison), so an outcome costs O(d^2) and a prediction reads only the
alert's nonzero dimensions. Before any outcome the weights are 0 and the
prediction is 0.5: an untried template keeps its optimism. The covariance keeps
collinear features (words that always come together) from being counted twice,
which a naive-Bayes model would do.

Optional (``Policy(outcome_model=True)``), off by default: on the learning
benchmark it did not beat the neighbour evidence alone beyond the noise between
seed sets (benchmarks/learning/README.md), and it doubles the ranking cost.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from suture.recommend.features import Vector

Array = npt.NDArray[np.float64]


class LogisticPosterior:
    """Gaussian posterior N(mean, cov) over the weights of one template in one family (plus an intercept)."""

    def __init__(self, dim: int, *, prior_variance: float = 1.0, drift: float = 0.0) -> None:
        self.drift = drift
        """Variance added to each weight before an outcome: a random walk, so old outcomes fade."""
        self.dim = dim + 1  # the last dimension is the intercept, always 1
        self.mean: Array = np.zeros(self.dim)
        self.cov: Array = np.eye(self.dim) * prior_variance
        self.count = 0

    def _x(self, vector: Vector) -> tuple[npt.NDArray[np.intp], Array]:
        used = np.append(np.flatnonzero(vector), self.dim - 1)
        values = np.append(vector[used[:-1]].astype(np.float64), 1.0)
        return used, values

    def update(self, vector: Vector, effective: bool) -> None:
        """One outcome: a Newton step at the current mean, with the covariance updated by Sherman-Morrison."""
        used, x = self._x(vector)
        if self.drift:
            self.cov[np.diag_indices(self.dim)] += self.drift
        p = _sigmoid(float(self.mean[used] @ x))
        sx = self.cov[:, used] @ x  # cov @ x, reading only the used columns
        s = float(x @ sx[used])
        k = p * (1.0 - p)
        self.cov -= np.outer(sx, sx) * (k / (1.0 + k * s))
        # The step uses the updated covariance (that is the Laplace/EKF update of the mean).
        self.mean += (self.cov[:, used] @ x) * ((1.0 if effective else 0.0) - p)
        self.count += 1

    def predict(self, vector: Vector) -> tuple[float, float]:
        """(probability of Effective, variance of the logit) for an alert, the weights integrated out (probit)."""
        used, x = self._x(vector)
        logit = float(self.mean[used] @ x)
        var = float(x @ self.cov[np.ix_(used, used)] @ x)
        return _sigmoid(logit / math.sqrt(1.0 + math.pi * var / 8.0)), var


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class OutcomeModels:
    """One :class:`LogisticPosterior` per (family, template), created on its first outcome."""

    def __init__(self, *, dim: int, prior_variance: float = 1.0, drift: float = 0.0) -> None:
        self.dim = dim
        self.drift = drift
        self.prior_variance = prior_variance
        self._models: dict[tuple[str, str], LogisticPosterior] = {}

    def observe(self, *, family: str, template: str, vector: Vector, effective: bool) -> None:
        """Count one decided outcome."""
        model = self._models.get((family, template))
        if model is None:
            model = self._models[(family, template)] = LogisticPosterior(
                self.dim, prior_variance=self.prior_variance, drift=self.drift
            )
        model.update(vector, effective)

    def predict(self, *, family: str, template: str, vector: Vector) -> float | None:
        """P(Effective) for an alert with ``vector``, or None when the template has no outcome in the family."""
        model = self._models.get((family, template))
        if model is None:
            return None
        return model.predict(vector)[0]
