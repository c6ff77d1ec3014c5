"""The vector index on a Qdrant server, through qdrant-client (production, several replicas, big history).

The same calls work against qdrant-client's local mode (``QdrantClient(":memory:")``
or ``path=``), which is how the tests exercise this class; local mode is a
pure-Python scan and far too slow to be the embedded default.

Points are stored with ``Distance.DOT`` (the query carries the learned weights)
and payload ``family``, ``template``, ``effective``, ``seq``, ``key``,
``fingerprint`` and ``version``; ``family`` and ``template`` get keyword payload indexes so the
server filters before it scores.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from suture.recommend.features import Vector
from suture.recommend.index import Hit, Hits, Point

COLLECTION = "suture_alerts"
_NAMESPACE = uuid.UUID("6d1b1f4e-3c0a-4f7e-9d55-2a8c1b7e0c11")


class QdrantIndex:
    """A :class:`~suture.recommend.index.VectorIndex` over a qdrant-client ``QdrantClient``."""

    def __init__(self, client: Any, *, dim: int, collection: str = COLLECTION, payload_indexes: bool = True) -> None:
        from qdrant_client import models

        self._client = client
        self._models = models
        self.dim = dim
        self.collection = collection
        if not client.collection_exists(collection):
            client.create_collection(
                collection_name=collection,
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT),
            )
            # Local mode ignores payload indexes (and warns); a server filters with them before scoring.
            for key in ("family", "template") if payload_indexes else ():
                client.create_payload_index(
                    collection_name=collection, field_name=key, field_schema=models.PayloadSchemaType.KEYWORD
                )
        self._count = int(client.count(collection_name=collection, exact=True).count)

    @classmethod
    def connect(cls, *, url: str, dim: int, api_key: str | None = None) -> QdrantIndex:
        """Connect to a Qdrant server at ``url`` (``:memory:`` for local mode)."""
        from qdrant_client import QdrantClient

        if url == ":memory:":
            return cls(QdrantClient(location=":memory:"), dim=dim, payload_indexes=False)
        # No version check: qdrant-client runs it in a background thread whose failure is an unhandled thread
        # exception, and an unreachable server already fails loudly at the first call.
        return cls(QdrantClient(url=url, api_key=api_key, check_compatibility=False), dim=dim)

    def add(self, point: Point) -> None:
        """Upsert (waiting for the server to apply it); the point id is a UUID derived from ``point.id``."""
        if point.vector.shape != (self.dim,):
            raise ValueError(f"vector has shape {point.vector.shape}, the index holds {self.dim}-long vectors")
        pid = str(uuid.uuid5(_NAMESPACE, point.id))
        existed = bool(self._client.retrieve(collection_name=self.collection, ids=[pid]))
        self._client.upsert(
            collection_name=self.collection,
            wait=True,
            points=[
                self._models.PointStruct(
                    id=pid,
                    vector=[float(x) for x in point.vector],
                    payload={
                        "key": point.id,
                        "family": point.family,
                        "template": point.template,
                        "effective": point.effective,
                        "seq": point.seq,
                        "fingerprint": point.fingerprint,
                        "version": point.version,
                    },
                )
            ],
        )
        if not existed:
            self._count += 1

    def search(self, query: Vector, *, family: str, template: str, limit: int, norms: Vector | None = None) -> Hits:
        """Filtered top-``limit``; with ``norms``, the server's top by dot product re-ranked here by cosine.

        Qdrant cannot divide by a length that depends on weights chosen at query
        time, so it returns four times ``limit`` candidates by dot product and
        this re-ranks them (an approximation the embedded index does not need).
        """
        m = self._models
        flt = m.Filter(
            must=[
                m.FieldCondition(key="family", match=m.MatchValue(value=family)),
                m.FieldCondition(key="template", match=m.MatchValue(value=template)),
            ]
        )
        response = self._client.query_points(
            collection_name=self.collection,
            query=[float(x) for x in query],
            query_filter=flt,
            limit=limit if norms is None else 4 * limit,
            with_payload=True,
            with_vectors=True,
        )
        hits = [Hit(point=self._point(p), score=float(p.score)) for p in response.points]
        if norms is None:
            return Hits.of(hits)
        rescored = [
            Hit(point=h.point, score=h.score / float(np.sqrt(max(float(h.point.vector @ norms), 1e-12)))) for h in hits
        ]
        rescored.sort(key=lambda h: (-h.score, -h.point.seq))
        return Hits.of(rescored[:limit])

    def _point(self, record: Any) -> Point:
        payload = record.payload or {}
        return Point(
            id=str(payload.get("key", record.id)),
            family=str(payload["family"]),
            template=str(payload["template"]),
            effective=bool(payload["effective"]),
            seq=int(payload.get("seq", 0)),
            vector=np.asarray(record.vector, dtype=np.float32),
            fingerprint=str(payload.get("fingerprint", "")),
            version=str(payload.get("version", "")),
        )

    def points(self) -> Iterator[Point]:
        """Every point, in recording order (scrolled, then sorted by ``seq``)."""
        found: list[Point] = []
        offset = None
        while True:
            records, offset = self._client.scroll(
                collection_name=self.collection, limit=512, offset=offset, with_payload=True, with_vectors=True
            )
            found.extend(self._point(r) for r in records)
            if offset is None:
                break
        found.sort(key=lambda p: p.seq)
        return iter(found)

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        """Close the client; idempotent."""
        self._client.close()
