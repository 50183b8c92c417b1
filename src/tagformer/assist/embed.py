"""Embedders of the library: the offline hashed TF-IDF vectors (sparse, stored as index/value pairs) or the
LLM endpoint's embeddings (dense float32). Both turn texts into bytes for the store and score a query
against stored bytes."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp

from tagformer.assist.lexical import HASH_FEATURES, hashed, idf_cosine


class Embedder(Protocol):
    """``name`` identifies the vectors in a store (a store made by another embedder is re-embedded)."""

    name: str

    def encode(self, texts: list[str]) -> list[bytes]: ...

    def scores(self, query: str, blobs: list[bytes]) -> np.ndarray: ...


class HashedTfidf:
    """Offline: hashed word + char n-gram counts, IDF-weighted at query time from the stored chunks."""

    name = "tfidf-hashed-v1"

    def encode(self, texts: list[str]) -> list[bytes]:
        m = hashed(texts)
        out = []
        for i in range(m.shape[0]):
            row = m.getrow(i)
            out.append(row.indices.astype(np.int32).tobytes() + row.data.astype(np.float32).tobytes())
        return out

    @staticmethod
    def _decode(blobs: list[bytes]) -> sp.csr_matrix:
        """Stored rows (non-empty list) back to one sparse matrix."""
        indptr, indices, data = [0], [], []
        for b in blobs:
            n = len(b) // 8
            indices.append(np.frombuffer(b[: 4 * n], np.int32))
            data.append(np.frombuffer(b[4 * n:], np.float32))
            indptr.append(indptr[-1] + n)
        return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.asarray(indptr)),
                             shape=(len(blobs), HASH_FEATURES))

    def scores(self, query: str, blobs: list[bytes]) -> np.ndarray:
        if not blobs:
            return np.zeros(0)
        return idf_cosine(hashed([query]), self._decode(blobs))


class LLMEmbedder:
    """The endpoint's embeddings model (``llm.embed``); cosine similarity of unit vectors."""

    def __init__(self, llm, batch: int = 64) -> None:
        self.llm = llm
        self.batch = batch
        self.name = f"llm:{llm.settings.embed_model}"

    def encode(self, texts: list[str]) -> list[bytes]:
        out: list[bytes] = []
        for i in range(0, len(texts), self.batch):
            out += [v.tobytes() for v in self.llm.embed(texts[i:i + self.batch])]
        return out

    def scores(self, query: str, blobs: list[bytes]) -> np.ndarray:
        if not blobs:
            return np.zeros(0)
        q = self.llm.embed([query])[0]
        return np.stack([np.frombuffer(b, np.float32) for b in blobs]) @ q
