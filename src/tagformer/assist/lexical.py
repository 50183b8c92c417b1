"""The offline text similarity: TF-IDF over words (1-2 grams) and character 3-5 grams (scikit-learn).

This is lexical, not semantic: texts are similar when they share words and word pieces ("tagger" and
"tagging" share "tagg"), not when they mean the same thing in different words. Every output that uses it
says ``similarity: tf-idf, no LLM``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

METHOD = "similarity: tf-idf, no LLM"
#: Dimension of the hashed vectors the library stores (fixed, so ingestion can be incremental).
HASH_FEATURES = 2**18


def fit_tfidf(corpus: list[str]):
    """Word and character TF-IDF vectorisers fitted on ``corpus``; returns ``transform(texts) -> csr``
    whose rows are unit vectors (so a dot product is the cosine, the mean of the word and char cosines)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, min_df=1)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)
    words.fit(corpus)
    chars.fit(corpus)

    def transform(texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([words.transform(texts), chars.transform(texts)]).tocsr() / np.sqrt(2.0)

    transform.words = words  # type: ignore[attr-defined]
    return transform


def top_terms(transform, text: str, k: int = 5) -> list[str]:
    """The ``k`` word terms of highest TF-IDF weight in ``text``."""
    words = transform.words
    row = words.transform([text])
    if row.nnz == 0:
        return []
    names = words.get_feature_names_out()
    order = np.argsort(-row.data)
    out: list[str] = []
    for i in order:
        term = str(names[row.indices[i]])
        if not any(term in t or t in term for t in out):
            out.append(term)
        if len(out) == k:
            break
    return out


def hashed(texts: list[str]) -> sp.csr_matrix:
    """Stateless unit vectors of word (1-2 gram) and char (3-5 gram) counts, sublinear, for the library;
    IDF weights are applied at query time from the stored chunks (:func:`idf_cosine`)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"n_features": HASH_FEATURES // 2, "alternate_sign": False, "norm": None}
    w = HashingVectorizer(ngram_range=(1, 2), stop_words="english", **common).transform(texts)
    c = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common).transform(texts)
    m = sp.hstack([w, c]).tocsr().astype(np.float32)
    m.data = 1.0 + np.log(m.data)
    return m


def idf_cosine(query: sp.csr_matrix, docs: sp.csr_matrix) -> np.ndarray:
    """Cosine of one hashed query row against hashed document rows, both weighted by the IDF of ``docs``."""
    df = np.bincount(docs.indices, minlength=docs.shape[1]).astype(np.float32)
    idf = np.log((1 + docs.shape[0]) / (1 + df)) + 1.0
    d = docs.multiply(idf).tocsr()
    q = query.multiply(idf).tocsr()
    dn = np.sqrt(np.asarray(d.multiply(d).sum(axis=1)).ravel())
    qn = float(np.sqrt(q.multiply(q).sum()))
    return np.asarray((d @ q.T).todense()).ravel() / np.maximum(dn * qn, 1e-12)
