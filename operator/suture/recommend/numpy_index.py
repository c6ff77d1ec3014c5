"""The embedded vector index: one numpy matrix per (alert family, template), persisted as an append-only log.

Why numpy and not ``qdrant_edge``: ranking filters to one family and one
template before it compares vectors, so each search is one small matrix-vector
product and an ``argpartition``. ``benchmarks/bench_index.py`` (100k points,
filter keeping 1/20, top 20, on a loaded 2-core machine) measured numpy faster
to search (p50 5.7 vs 8.1 ms; at 10k 0.08 vs 0.25 ms) with 8x less disk (35 vs
291 MB) and no extra dependency; qdrant_edge reloads much faster (0.3 vs 10 s)
and holds less in RAM (it maps segments from disk). Start-up replay of this
log is the cost to watch (a binary snapshot would remove it).

Persistence: each point is one line of JSON (sparse vector) followed by a tab
and its CRC-32, appended and flushed (and fsynced when ``durable``) before
``add`` returns. A SIGKILL can at worst leave a torn last line; loading drops a
line whose checksum does not match and truncates the file there. One process
per file: an exclusive ``flock`` is taken on open.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from suture.recommend.features import Vector
from suture.recommend.index import Hits, Point


class IndexLockedError(RuntimeError):
    """Another process holds the index file open."""


class _Segment:
    """Points of one (family, template): a growable matrix, and per row the point's other fields.

    The matrix is stored transposed (one row per dimension, one column per
    point) so a search reads only the dimensions the query has: an alert sets
    about 30 of 256, which makes a search about 8x less memory traffic than a
    full matrix-vector product. Vectors live only in the matrix (a Point is
    rebuilt when one is returned), so 100k points cost about their matrix.
    """

    def __init__(self, family: str, template: str, dim: int) -> None:
        self.family = family
        self.template = template
        self.columns: npt.NDArray[np.float32] = np.zeros((dim, 16), dtype=np.float32)
        self.effective: npt.NDArray[np.bool_] = np.zeros(16, dtype=np.bool_)
        self.ids: list[str] = []
        self.seqs: npt.NDArray[np.int64] = np.zeros(16, dtype=np.int64)
        self.fingerprints: list[str] = []
        self.versions: list[str] = []
        # Each point's set dimensions and values, row by row (padded with dimension ``dim``, value 0): a hit's
        # weighted mass reads one short row, where the transposed matrix would cost a cache miss per dimension.
        self.nz: npt.NDArray[np.int32] = np.full((16, 32), dim, dtype=np.int32)
        self.nz_values: npt.NDArray[np.float32] = np.zeros((16, 32), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, point: Point) -> int:
        n = len(self.ids)
        if n == self.columns.shape[1]:
            grown = np.zeros((self.columns.shape[0], 2 * n), dtype=np.float32)
            grown[:, :n] = self.columns
            self.columns = grown
            self.effective = np.concatenate([self.effective, np.zeros(n, dtype=np.bool_)])
            self.seqs = np.concatenate([self.seqs, np.zeros(n, dtype=np.int64)])
            self.nz = np.vstack([self.nz, np.full_like(self.nz, self.columns.shape[0])])
            self.nz_values = np.vstack([self.nz_values, np.zeros_like(self.nz_values)])
        used = np.flatnonzero(point.vector)
        if len(used) > self.nz.shape[1]:
            extra = len(used) - self.nz.shape[1]
            self.nz = np.hstack([self.nz, np.full((self.nz.shape[0], extra), self.columns.shape[0], dtype=np.int32)])
            self.nz_values = np.hstack([self.nz_values, np.zeros((self.nz.shape[0], extra), dtype=np.float32)])
        self.nz[n, : len(used)] = used
        self.nz_values[n, : len(used)] = point.vector[used]
        self.columns[:, n] = point.vector
        self.effective[n] = point.effective
        self.ids.append(point.id)
        self.seqs[n] = point.seq
        self.fingerprints.append(point.fingerprint)
        self.versions.append(point.version)
        return n

    def point(self, row: int, *, copy: bool = True) -> Point:
        # A hit's point gets a view of its column (explanations never read it); points() hands out copies.
        column = self.columns[:, row]
        return Point(
            id=self.ids[row],
            family=self.family,
            template=self.template,
            effective=bool(self.effective[row]),
            seq=int(self.seqs[row]),
            vector=column.copy() if copy else column,
            fingerprint=self.fingerprints[row],
            version=self.versions[row],
        )

    def search(self, query: Vector, limit: int, norms: Vector | None) -> Hits:
        n = len(self.ids)
        if n == 0 or limit <= 0:
            return _NO_HITS
        used = np.flatnonzero(query)
        # Stored vectors are 0/1 and sparse: only the query's nonzero dimensions can add to a score.
        scores = query[used] @ self.columns[used, :n]
        if norms is not None:
            scores = scores / np.sqrt(np.maximum(norms @ self.columns[:, :n], 1e-12))
        top = np.argpartition(-scores, limit - 1)[:limit] if n > limit else np.arange(n)
        # Best first; on equal scores the more recent point first (drift: recent evidence wins ties).
        order = top[np.lexsort((-top, -scores[top]))]
        rows = order.tolist()
        return Hits(
            scores[order],
            self.effective[order],
            lambda i: self.point(rows[i], copy=False),
            self.seqs[order],
            [self.versions[r] for r in rows],
            lambda weights: self.masses(order, weights),
        )

    def masses(self, rows: npt.NDArray[np.intp], weights: Vector) -> npt.NDArray[np.float64]:
        """Each row's weighted mass (weights . vector), from the row-wise nonzero lists."""
        padded = np.append(weights.astype(np.float64), 0.0)
        masses: npt.NDArray[np.float64] = (padded[self.nz[rows]] * self.nz_values[rows]).sum(axis=1)
        return masses


_NO_HITS = Hits(np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.bool_), lambda i: _no_point(i))


def _no_point(i: int) -> Point:
    raise IndexError(i)


def _encode(point: Point) -> str:
    nz = np.flatnonzero(point.vector)
    body = json.dumps(
        {
            "id": point.id,
            "family": point.family,
            "template": point.template,
            "effective": point.effective,
            "seq": point.seq,
            "fingerprint": point.fingerprint,
            "version": point.version,
            "nz": nz.tolist(),
            "v": [float(x) for x in point.vector[nz]],
        },
        separators=(",", ":"),
    )
    return f"{body}\t{zlib.crc32(body.encode()):08x}\n"


def _decode(line: str, dim: int) -> Point | None:
    body, sep, crc = line.rstrip("\n").rpartition("\t")
    if not sep or f"{zlib.crc32(body.encode()):08x}" != crc:
        return None
    data = json.loads(body)
    vector = np.zeros(dim, dtype=np.float32)
    vector[np.asarray(data["nz"], dtype=np.int64)] = np.asarray(data["v"], dtype=np.float32)
    return Point(
        id=data["id"],
        family=data["family"],
        template=data["template"],
        effective=bool(data["effective"]),
        seq=int(data["seq"]),
        vector=vector,
        fingerprint=data.get("fingerprint", ""),
        version=str(data.get("version", "")),
    )


class NumpyIndex:
    """In memory when ``path`` is None; otherwise loaded from and appended to ``path``."""

    def __init__(self, *, dim: int, path: Path | None = None, durable: bool = True, read_only: bool = False) -> None:
        self.dim = dim
        self._segments: dict[tuple[str, str], _Segment] = {}
        self._order: list[tuple[_Segment, int]] = []
        self._ids: set[str] = set()
        self._durable = durable
        self._file: IO[str] | None = None
        self._read_only = read_only
        if path is not None and read_only:
            self._read(path)
        elif path is not None:
            self._open(path)

    def _read(self, path: Path) -> None:
        # A reader (``suture recommend`` beside a running operator) takes no lock and never truncates.
        if not path.exists():
            return
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                point = _decode(line, self.dim) if line.endswith("\n") else None
                if point is None:
                    break
                self._insert(point)

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the index's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise IndexLockedError(f"{path} is open in another process") from None
        handle.seek(0)
        good_bytes = 0
        for line in handle:
            point = _decode(line, self.dim) if line.endswith("\n") else None
            if point is None:
                break  # a torn tail (killed mid-write): everything after it is dropped
            good_bytes += len(line.encode())
            self._insert(point)
        handle.truncate(good_bytes)
        handle.seek(0, os.SEEK_END)
        self._file = handle

    def _insert(self, point: Point) -> None:
        if point.id in self._ids:
            return
        self._ids.add(point.id)
        key = (point.family, point.template)
        segment = self._segments.get(key)
        if segment is None:
            segment = self._segments[key] = _Segment(point.family, point.template, self.dim)
        self._order.append((segment, segment.append(point)))

    def add(self, point: Point) -> None:
        """Store ``point``; with a file, written (and fsynced when durable) before returning."""
        if point.vector.shape != (self.dim,):
            raise ValueError(f"vector has shape {point.vector.shape}, the index holds {self.dim}-long vectors")
        if self._read_only:
            raise PermissionError("this index was opened read-only")
        if point.id in self._ids:
            return
        if self._file is not None:
            self._file.write(_encode(point))
            self._file.flush()
            if self._durable:
                os.fsync(self._file.fileno())
        self._insert(point)

    def search(self, query: Vector, *, family: str, template: str, limit: int, norms: Vector | None = None) -> Hits:
        """Top ``limit`` points of (family, template); see :meth:`VectorIndex.search`."""
        segment = self._segments.get((family, template))
        return _NO_HITS if segment is None else segment.search(query, limit, norms)

    def points(self) -> Iterator[Point]:
        """Every point in recording order."""
        return (segment.point(row) for segment, row in list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def close(self) -> None:
        """Close the file (releasing the lock); idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None
