"""Rank contributions against the interests: offline by embedding similarity (all-MiniLM-L6-v2, or TF-IDF
when it is not installed), or by an LLM filling the typed
:class:`~tagformer.assist.schema.Assessment` (falling back to the offline assessment where the LLM's
output stays invalid)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import pydantic

from tagformer.assist.interests import Interests
from tagformer.assist.lexical import METHOD, fit_tfidf, top_terms
from tagformer.assist.llm import LLM, LLMInvalidOutput
from tagformer.assist.schema import INTEREST_ORDER, Assessment, Contribution, Ranked

EXPERIMENTS = ("ATLAS", "CMS", "LHCb", "ALICE", "Belle II", "BESIII", "DUNE", "IceCube", "CDF", "D0", "NA62",
               "FCC", "ILC", "CLIC", "EIC", "sPHENIX", "STAR", "PHENIX", "KM3NeT", "T2K", "NOvA", "LIGO")
_EXPERIMENT = re.compile(r"\b(" + "|".join(re.escape(e) for e in EXPERIMENTS) + r")\b")


class LLMAssessment(Assessment):
    """The schema the LLM must fill (``confidence`` required)."""

    confidence: float = pydantic.Field(ge=0.0, le=1.0)  # type: ignore[assignment]


def _text(c: Contribution) -> str:
    return f"{c.title}. {c.abstract}"


def _level(score: float, thresholds: dict[str, float]) -> str:
    if score >= thresholds.get("high", 0.2):
        return "high"
    return "medium" if score >= thresholds.get("medium", 0.1) else "low"


def _first_sentence(text: str) -> str:
    s = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    return s if len(s) <= 300 else s[:297] + "..."


def _similarities(items: list[Contribution], topics: list[str], embedder) -> tuple[np.ndarray, str]:
    """(items x topics) cosines and the method label: the embedder's unit vectors when it has them
    (all-MiniLM-L6-v2), else TF-IDF fitted on the items and topics."""
    texts = [_text(c) for c in items]
    if embedder is not None and hasattr(embedder, "unit"):
        from tagformer.assist.minilm import METHOD as EMBED_METHOD

        return embedder.unit(texts) @ embedder.unit(topics).T, EMBED_METHOD
    transform = fit_tfidf(texts + topics)
    return (transform(texts) @ transform(topics).T).toarray(), METHOD


def rank_offline(items: list[Contribution], interests: Interests, embedder=None) -> list[Ranked]:
    """Score = cosine to the closest interested topic minus cosine to the closest not-interested topic, by
    the embedder's vectors (``MiniLMEmbedder``) or, without one, TF-IDF; keywords are TF-IDF terms."""
    if not items:
        return []
    topics = interests.interested + interests.not_interested
    sims, method = _similarities(items, topics, embedder)
    thresholds = interests.thresholds if method == METHOD else interests.thresholds_embedding
    transform = fit_tfidf([_text(c) for c in items] + topics)
    n_in = len(interests.interested)
    out = []
    for c, row in zip(items, sims):
        i_best = int(np.argmax(row[:n_in]))
        best_in = float(row[i_best])
        best_not, j_best = (float(row[n_in:].max()), int(np.argmax(row[n_in:]))) if row.size > n_in else (0.0, -1)
        score = best_in - best_not
        why = f"closest interest: '{interests.interested[i_best]}' (cosine {best_in:.2f})"
        if j_best >= 0:
            why += f"; closest non-interest: '{interests.not_interested[j_best]}' ({best_not:.2f})"
        found = _EXPERIMENT.findall(_text(c))
        assessment = Assessment(summary=_first_sentence(c.abstract or c.title),
                                experiment=found[0] if found else "none", keywords=top_terms(transform, _text(c)),
                                interest=_level(score, thresholds), explanation=why, confidence=None)
        out.append(Ranked(contribution=c, assessment=assessment, score=round(score, 4), method=method))
    return sort_ranked(out)


SYSTEM = ("You rank physics papers and talks for a reader. Reply with one JSON object with exactly these keys: "
          "summary (1-2 sentences), experiment (collaboration name or 'none'), keywords (3-8 strings), interest "
          "('high', 'medium' or 'low' for this reader), explanation (why, citing the reader's interests), confidence "
          "(0 to 1), unknown_terms (terms you do not know; [] if none). JSON schema:\n")


def assess_messages(c: Contribution, interests: Interests) -> list[dict[str, str]]:
    """The chat messages that ask the LLM to fill the schema for one contribution."""
    schema = LLMAssessment.model_json_schema()
    return [{"role": "system", "content": SYSTEM + str(schema)},
            {"role": "user", "content": f"{interests.as_text()}\n\nTitle: {c.title}\nAuthors: "
                                        f"{', '.join(c.authors[:10])}\nAbstract: {c.abstract}"}]


def rank_llm(items: list[Contribution], interests: Interests, llm: LLM,
             progress: Callable[[Iterable], Iterable] = iter, log: Callable[[str], None] = print,
             embedder=None) -> list[Ranked]:
    """Each contribution assessed by the LLM (validated, retried once); score = level then confidence.
    A contribution whose output stays invalid keeps its offline assessment (by ``embedder``), labelled so."""
    offline = {r.contribution.id: r for r in rank_offline(items, interests, embedder)}
    out, failed = [], 0
    label = f"llm: {llm.model}"
    for c in progress(items):
        try:
            a = llm.structured(assess_messages(c, interests), LLMAssessment)
        except LLMInvalidOutput:
            failed += 1
            r = offline[c.id]
            out.append(r.model_copy(update={"method": f"{r.method} (LLM output invalid twice)"}))
            continue
        score = (2 - INTEREST_ORDER[a.interest]) + a.confidence
        out.append(Ranked(contribution=c, assessment=Assessment.model_validate(a.model_dump()), score=score,
                          method=label))
    if failed:
        log(f"warning: {failed} of {len(items)} contributions got invalid LLM output twice; ranked offline")
    return sort_ranked(out)


def sort_ranked(items: list[Ranked]) -> list[Ranked]:
    """By interest (high first), then score (highest first)."""
    return sorted(items, key=lambda r: (INTEREST_ORDER[r.assessment.interest], -r.score))
