"""Alerts to vectors: a dependency-free hashing featurizer, behind an interface an embedding model can fill.

The hashing featurizer turns an alert into tokens (``alert=``, label keys and
values, annotation words that do not just repeat a label value, context
facts), then hashes each token into one of ``dim`` buckets of a 0/1 vector. It knows nothing of which tokens matter:
identity tokens (pod, node, workload names) are as loud as ``OOMKilled`` here.
Telling them apart is the job of :mod:`suture.recommend.weights`, which learns a
weight per bucket from outcomes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from suture.recommend.alerts import AlertView, Context

Vector = npt.NDArray[np.float32]

_WORD = re.compile(r"[a-z][a-z0-9_]{1,39}")
# Labels whose values name one object; their values also yield a stem without the
# generated suffixes (web-5d8f7c9b4-abcde -> web), which repeats across pods.
_SUFFIX = re.compile(r"(-[a-z0-9]{4,10})+$")
_IGNORED_LABELS = frozenset({"alertname", "prometheus", "endpoint", "service", "job"})
_IGNORED_ANNOTATIONS = frozenset({"runbook_url", "dashboard_url"})


@dataclass(frozen=True)
class Features:
    """One alert as ranking sees it: its tokens (for explanations and history) and its vector."""

    tokens: tuple[str, ...]
    vector: Vector


class Featurizer(Protocol):
    """Turns an alert (and its live context) into a fixed-length vector.

    An embedding model plugs in by implementing this: ``tokens`` may return the
    words it embedded, ``vector`` its embedding (``dim`` long). Weights learned
    per dimension then apply to whatever the dimensions mean.
    """

    dim: int

    def tokens(self, alert: AlertView, context: Context | None) -> tuple[str, ...]:
        """The alert's tokens, stable for equal input."""
        ...

    def vector(self, tokens: tuple[str, ...]) -> Vector:
        """A ``dim``-long float32 vector for the tokens."""
        ...

    def bucket(self, token: str) -> int:
        """The vector dimension a token lands in (for explanations)."""
        ...


def context_tokens(context: Context | None) -> list[str]:
    """Tokens for the live context; restarts are bucketed so 11 and 12 restarts look alike."""
    if context is None:
        return []
    out: list[str] = []
    if context.termination_reason:
        out.append(f"ctx:reason={context.termination_reason}")
    if context.exit_code is not None:
        out.append(f"ctx:exit={context.exit_code}")
    if context.restarts is not None:
        out.append(f"ctx:restarts={_restart_bucket(context.restarts)}")
    if context.recent_rollout is not None:
        out.append("ctx:rollout=recent" if context.recent_rollout else "ctx:rollout=none")
    out.extend(f"ctx:node={c}" for c in context.node_conditions)
    out.extend(f"ctx:{k}={v}" for k, v in sorted(context.extra.items()))
    return out


def _restart_bucket(restarts: int) -> str:
    if restarts <= 0:
        return "0"
    if restarts <= 3:
        return "1-3"
    if restarts <= 10:
        return "4-10"
    return ">10"


class HashingFeaturizer:
    """Feature hashing over alert name, label keys and values, annotation words and context.

    Deterministic across processes (blake2b, not Python's salted ``hash``), so
    stored vectors stay comparable after a restart.
    """

    def __init__(self, *, dim: int = 256) -> None:
        if dim < 16:
            raise ValueError("dim must be at least 16")
        self.dim = dim
        self._buckets: dict[str, int] = {}

    def tokens(self, alert: AlertView, context: Context | None) -> tuple[str, ...]:
        """Tokens in a stable order, each once."""
        out: list[str] = [f"alert={alert.name}"]
        for key in sorted(alert.labels):
            if key in _IGNORED_LABELS:
                continue
            value = alert.labels[key].lower()
            out.append(f"label:{key}")
            out.append(f"label:{key}={value}")
            stem = _SUFFIX.sub("", value)
            if stem and stem != value:
                out.append(f"label:{key}~{stem}")
        # Words that only repeat a label value say nothing the label does not, and the usual ones are
        # identity: "Pod shop/api-5d8f7c9b4-x2k4q ..." splits into words that never recur, each hashed into
        # a bucket a word that matters may share. Dropping them measured +2.4 points of the ceiling on the
        # learning benchmark (benchmarks/learning/README.md).
        named = {
            w for key, value in alert.labels.items() if key not in _IGNORED_LABELS for w in _WORD.findall(value.lower())
        }
        for key in sorted(alert.annotations):
            if key in _IGNORED_ANNOTATIONS:
                continue
            out.extend(f"word:{w}" for w in _WORD.findall(alert.annotations[key].lower()) if w not in named)
        out.extend(context_tokens(context))
        return tuple(dict.fromkeys(out))

    def bucket(self, token: str) -> int:
        """The bucket of ``token`` (cached: the same tokens recur constantly)."""
        found = self._buckets.get(token)
        if found is None:
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            found = int.from_bytes(digest, "little") % self.dim
            if len(self._buckets) < 200_000:
                self._buckets[token] = found
        return found

    def vector(self, tokens: tuple[str, ...]) -> Vector:
        """A 0/1 vector: 1 where at least one token landed."""
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in tokens:
            vec[self.bucket(token)] = 1.0
        return vec

    def featurize(self, alert: AlertView, context: Context | None) -> Features:
        """Tokens and vector in one call."""
        tokens = self.tokens(alert, context)
        return Features(tokens=tokens, vector=self.vector(tokens))
