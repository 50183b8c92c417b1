"""Hybrid retrieval: vector similarity and FTS5 BM25 keyword search, fused by reciprocal rank fusion
(score = sum over the two rankings of 1 / (k + rank), k = 60; Cormack et al. 2009)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

import numpy as np

from tagformer.assist.embed import Embedder
from tagformer.assist.library import Passage, all_passages

RRF_K = 60
_WORD = re.compile(r"[A-Za-z0-9_]{2,}")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage, its fused score and its rank in each list (None where absent)."""

    passage: Passage
    score: float
    vector_rank: int | None
    keyword_rank: int | None


def keyword_ranking(conn: sqlite3.Connection, query: str, limit: int) -> list[int]:
    """Chunk ids by BM25 (FTS5) for the query's words, any of them matching."""
    words = _WORD.findall(query)
    if not words:
        return []
    match = " OR ".join(f'"{w}"' for w in words)
    rows = conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?",
                        (match, limit)).fetchall()
    return [r[0] for r in rows]


def rrf(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion of several rankings of ids (rank 1 first)."""
    out: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, 1):
            out[i] = out.get(i, 0.0) + 1.0 / (k + rank)
    return out


def search(conn: sqlite3.Connection, embedder: Embedder, query: str, top: int = 5, pool: int = 50) -> list[Hit]:
    """The ``top`` passages for ``query``: the best ``pool`` of each ranking, fused."""
    passages, blobs = all_passages(conn)
    if not passages:
        return []
    sims = embedder.scores(query, blobs)
    order = np.argsort(-sims, kind="stable")[:pool]
    vector = [passages[i].id for i in order if sims[i] > 0]
    keyword = keyword_ranking(conn, query, pool)
    fused = rrf([vector, keyword])
    by_id = {p.id: p for p in passages}
    vrank = {i: r for r, i in enumerate(vector, 1)}
    krank = {i: r for r, i in enumerate(keyword, 1)}
    best = sorted(fused, key=lambda i: -fused[i])[:top]
    return [Hit(by_id[i], fused[i], vrank.get(i), krank.get(i)) for i in best]
