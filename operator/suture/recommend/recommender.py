"""The Recommender: rank candidate templates for an alert, and learn from what happened.

Thread-safe: one lock guards the learned state, so the async wrapper
(:meth:`Recommender.arank`, which runs ranking in a worker thread so the event
loop never waits on numpy) and ``record_outcome`` may be called from anywhere.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from suture.recommend.alerts import OUTCOMES, AlertView, Candidate, Context, Outcome, candidates_from
from suture.recommend.explain import reasons_for
from suture.recommend.features import Features, HashingFeaturizer
from suture.recommend.index import Point, VectorIndex
from suture.recommend.numpy_index import NumpyIndex
from suture.recommend.outcome_model import OutcomeModels
from suture.recommend.ranking import Policy, Ranked, gather, posterior, prior_mean, score, weighted_query
from suture.recommend.weights import TokenWeights

INDEX_FILE = "vectors.log"


class Recommender:
    """Ranks templates for alerts and learns from outcomes. Build one with :meth:`in_memory` or :meth:`open`."""

    def __init__(
        self,
        *,
        index: VectorIndex,
        featurizer: HashingFeaturizer,
        policy: Policy | None = None,
        seed: int | None = None,
    ) -> None:
        self.policy = policy or Policy()
        self.featurizer = featurizer
        self._index = index
        self._weights = TokenWeights(
            dim=featurizer.dim,
            mode=self.policy.weights,
            floor=self.policy.floor,
            shrink=self.policy.shrink,
            relevance=self.policy.relevance,
            window=self.policy.stats_window,
        )
        self._rng = np.random.default_rng(seed)
        self._models = OutcomeModels(dim=featurizer.dim, drift=self.policy.model_drift)
        self._lock = threading.RLock()
        # Features computed at ranking time, by fingerprint, so the outcome is learned on exactly what was ranked.
        self._recent: OrderedDict[str, Features] = OrderedDict()
        self._pooled: dict[str, list[float]] = {}  # template -> [wins, runs] over all families
        self._pooled_by_family: dict[tuple[str, str], list[float]] = {}
        self._seq = 0
        for point in index.points():
            self._learn(point)

    @classmethod
    def in_memory(cls, *, seed: int | None = 0, policy: Policy | None = None, dim: int = 256) -> Recommender:
        """A recommender that keeps nothing on disk (tests, benchmarks, ``suture recommend``)."""
        return cls(index=NumpyIndex(dim=dim), featurizer=HashingFeaturizer(dim=dim), policy=policy, seed=seed)

    @classmethod
    def open(
        cls,
        *,
        data_dir: Path,
        qdrant_url: str | None = None,
        qdrant_api_key: str | None = None,
        seed: int | None = None,
        policy: Policy | None = None,
        dim: int = 256,
        read_only: bool = False,
    ) -> Recommender:
        """A recommender over ``data_dir/vectors.log`` (embedded), or a Qdrant server when ``qdrant_url`` is set.

        Raises :class:`~suture.recommend.numpy_index.IndexLockedError` if another
        process has the embedded index open (unless ``read_only``: then it reads
        what is there without locking, and ``record_outcome`` raises PermissionError).
        """
        index: VectorIndex
        if qdrant_url:
            from suture.recommend.qdrant_index import QdrantIndex

            index = QdrantIndex.connect(url=qdrant_url, dim=dim, api_key=qdrant_api_key or None)
        else:
            index = NumpyIndex(dim=dim, path=Path(data_dir) / INDEX_FILE, read_only=read_only)
        return cls(index=index, featurizer=HashingFeaturizer(dim=dim), policy=policy, seed=seed)

    def close(self) -> None:
        """Release the index; idempotent."""
        self._index.close()

    # -- ranking -------------------------------------------------------------------------------------

    def rank(
        self, alert: Mapping[str, Any], candidates: Sequence[Any], *, context: Context | None = None
    ) -> list[Ranked]:
        """Candidates best first, each with score and reasons. An empty candidate list gives an empty ranking.

        ``context`` holds facts read from the live target (optional). With the
        default policy the result is a pure function of the stored outcomes and
        the input (deterministic); equal scores keep priority, then declared order.
        """
        view = AlertView.parse(alert)
        cands = candidates_from(candidates)
        features = self.featurizer.featurize(view, context)
        with self._lock:
            self._remember(view.fingerprint, features)
            weights = self._weights.weights(view.name)
            query, norms, mass = weighted_query(features.vector, weights, self.policy.similarity)
            # Before any outcome of this family every feature weighs the same: naming "the top ones" would mislead.
            top_features = self._top_features(features, weights) if self._weights.knows(view.name) else ()
            live = tuple(
                (t, round(float(weights[self.featurizer.bucket(t)]), 3))
                for t in features.tokens
                if t.startswith("ctx:")
            )
            search = (query, norms, mass, weights)
            ranked = [self._score(view, cand, features, search, top_features, live) for cand in cands]
        order = sorted(range(len(ranked)), key=lambda i: (-ranked[i].score, -cands[i].priority, i))
        return [ranked[i] for i in order]

    async def arank(
        self, alert: Mapping[str, Any], candidates: Sequence[Any], *, context: Context | None = None
    ) -> list[Ranked]:
        """:meth:`rank` in a worker thread, so the event loop keeps serving while numpy works."""
        return await asyncio.to_thread(self.rank, alert, candidates, context=context)

    def _score(
        self,
        view: AlertView,
        cand: Candidate,
        features: Features,
        search: tuple[Any, Any, float, Any],
        top_features: tuple[tuple[str, float], ...],
        live: tuple[tuple[str, float], ...] = (),
    ) -> Ranked:
        """One candidate's score; ``search`` is (query, norms, query mass, weights) from :func:`weighted_query`."""
        policy = self.policy
        query, norms, mass, weights = search
        hits = self._index.search(query, family=view.name, template=cand.name, limit=policy.neighbours, norms=norms)
        evidence = gather(
            hits,
            query_mass=mass,
            sharpness=policy.sharpness,
            weights=weights if policy.similarity == "containment" else None,
            extra_weight=policy.extra_weight,
            now=self._seq,
            half_life=policy.half_life,
            version=cand.version,
            older_version_weight=policy.older_version_weight,
        )
        prior = prior_mean(cand, features.tokens, policy)
        pooled = self._pooled_elsewhere(view.name, cand.name) if policy.pool else None
        predicted = (
            self._models.predict(family=view.name, template=cand.name, vector=features.vector)
            if policy.outcome_model
            else None
        )
        if predicted is not None:
            # The family's logistic model replaces the prior (priority, text, pooling): it has seen this template.
            alpha = policy.model_strength * predicted + evidence.wins
            beta = policy.model_strength * (1.0 - predicted) + evidence.losses
        else:
            alpha, beta = posterior(prior=prior, evidence=evidence, pooled=pooled, policy=policy)
        mean = alpha / (alpha + beta)
        used_pool = predicted is None and pooled is not None and evidence.total == 0 and pooled[1] > 0
        return Ranked(
            template=cand.name,
            score=score(alpha, beta, policy=policy, rng=self._rng),
            mean=mean,
            evidence=evidence.total,
            prior=prior,
            neighbours=tuple(evidence.neighbours),
            reasons=reasons_for(
                prior=prior,
                mean=mean,
                evidence=evidence,
                pooled=used_pool,
                policy=policy,
                features=top_features,
                context=live,
                model=predicted,
            ),
            features=top_features,
            context=live,
        )

    def _top_features(self, features: Features, weights: Any) -> tuple[tuple[str, float], ...]:
        scored = [(t, float(weights[self.featurizer.bucket(t)])) for t in features.tokens]
        scored.sort(key=lambda tw: -tw[1])
        return tuple((t, round(w, 3)) for t, w in scored[:8])

    def _pooled_elsewhere(self, family: str, template: str) -> tuple[float, float]:
        wins, runs = self._pooled.get(template, [0.0, 0.0])
        here_wins, here_runs = self._pooled_by_family.get((family, template), [0.0, 0.0])
        return wins - here_wins, runs - here_runs

    def _remember(self, fingerprint: str, features: Features) -> None:
        self._recent[fingerprint] = features
        self._recent.move_to_end(fingerprint)
        while len(self._recent) > 10_000:
            self._recent.popitem(last=False)

    # -- learning ------------------------------------------------------------------------------------

    def record_outcome(
        self,
        alert: Mapping[str, Any],
        template: str,
        outcome: Outcome,
        *,
        context: Context | None = None,
        run_id: str | None = None,
        version: str = "",
    ) -> None:
        """Learn that ``template`` was run for ``alert`` with ``outcome``.

        ``Unknown`` teaches nothing (it is not a failure). The alert's features
        are the ones it was ranked with (when it was ranked by this process and
        ``context`` is None). ``run_id`` makes the call idempotent: recording the
        same run twice counts once. ``version`` is the template version that ran
        (``status.templateVersion.hash``): ranking counts an outcome of another
        version than a candidate's current one at a discount (see ranking). Raises
        ValueError for an unknown outcome.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if outcome == "Unknown":
            return
        view = AlertView.parse(alert)
        with self._lock:
            features = self._recent.get(view.fingerprint) if context is None else None
            if features is None:
                features = self.featurizer.featurize(view, context)
            self._seq += 1
            point = Point(
                id=run_id or f"{view.fingerprint}:{self._seq}",
                family=view.name,
                template=template,
                effective=outcome == "Effective",
                seq=self._seq,
                vector=features.vector,
                fingerprint=view.fingerprint,
                version=version,
            )
            before = len(self._index)
            self._index.add(point)
            if len(self._index) > before:
                self._learn(point)

    def _learn(self, point: Point) -> None:
        self._seq = max(self._seq, point.seq)
        self._weights.observe(
            family=point.family, template=point.template, vector=point.vector, effective=point.effective
        )
        if self.policy.outcome_model:
            self._models.observe(
                family=point.family, template=point.template, vector=point.vector, effective=point.effective
            )
        win = 1.0 if point.effective else 0.0
        for counts in (
            self._pooled.setdefault(point.template, [0.0, 0.0]),
            self._pooled_by_family.setdefault((point.family, point.template), [0.0, 0.0]),
        ):
            counts[0] += win
            counts[1] += 1.0

    def features_of(self, alert: Mapping[str, Any], *, context: Context | None = None) -> tuple[str, ...]:
        """The tokens ``alert`` is ranked on (stored with the run in history)."""
        return self.featurizer.tokens(AlertView.parse(alert), context)
