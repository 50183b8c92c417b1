"""Rank contributions against the interests: offline by TF-IDF similarity, or by an LLM filling the typed
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


def rank_offline(items: list[Contribution], interests: Interests) -> list[Ranked]:
    """Score = cosine to the closest interested topic minus cosine to the closest not-interested topic."""
    if not items:
        return []
    topics = interests.interested + interests.not_interested
    transform = fit_tfidf([_text(c) for c in items] + topics)
    sims = (transform([_text(c) for c in items]) @ transform(topics).T).toarray()
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
                                interest=_level(score, interests.thresholds), explanation=why, confidence=None)
        out.append(Ranked(contribution=c, assessment=assessment, score=round(score, 4), method=METHOD))
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
             progress: Callable[[Iterable], Iterable] = iter, log: Callable[[str], None] = print) -> list[Ranked]:
    """Each contribution assessed by the LLM (validated, retried once); score = level then confidence.
    A contribution whose output stays invalid keeps its offline assessment, labelled so."""
    offline = {r.contribution.id: r for r in rank_offline(items, interests)}
    out, failed = [], 0
    label = f"llm: {llm.model}"
    for c in progress(items):
        try:
            a = llm.structured(assess_messages(c, interests), LLMAssessment)
        except LLMInvalidOutput:
            failed += 1
            r = offline[c.id]
            out.append(r.model_copy(update={"method": f"{METHOD} (LLM output invalid twice)"}))
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
