"""``ask``: answer a question from the library. Without an LLM: the top passages with their citations.
With one: an :class:`~tagformer.assist.schema.Answer` whose every claim cites retrieved passages, rendered
with the document and page of each source."""

from __future__ import annotations

from pathlib import Path

import pydantic

from tagformer.assist.embed import Embedder
from tagformer.assist.library import open_store
from tagformer.assist.llm import LLM
from tagformer.assist.retrieve import Hit, search
from tagformer.assist.schema import Answer
from tagformer.errors import ConfigError, DataError

RETRIEVAL = "retrieval: hybrid (vectors + FTS5 BM25, reciprocal rank fusion)"


def retrieve(store: Path, embedder: Embedder, question: str, top: int) -> list[Hit]:
    if not question.strip():
        raise ConfigError("the question is empty.")
    if not store.is_file():
        raise DataError(f"{store}: no library store yet (ingest a folder first).")
    conn = open_store(store)
    try:
        hits = search(conn, embedder, question, top=top)
    finally:
        conn.close()
    if not hits:
        raise DataError(f"{store}: nothing in the library matches the question (is the library empty?).")
    return hits


def passages_text(hits: list[Hit], width: int = 600) -> str:
    """The offline answer: numbered passages with their citations."""
    lines = []
    for n, h in enumerate(hits, 1):
        text = h.passage.text if len(h.passage.text) <= width else h.passage.text[: width - 3] + "..."
        lines.append(f"[{n}] {h.passage.cite()}\n    {text}")
    return "\n".join(lines)


def _checked(n: int) -> type[Answer]:
    class Checked(Answer):
        @pydantic.model_validator(mode="after")
        def _sources_exist(self):
            bad = sorted({s for c in self.claims for s in c.sources if not 1 <= s <= n})
            if bad:
                raise ValueError(f"sources {bad} are not passage numbers 1..{n}")
            if not self.claims:
                raise ValueError("no claim")
            return self

    Checked.__name__ = "Answer"
    return Checked


def answer_llm(question: str, hits: list[Hit], llm: LLM) -> str:
    """The LLM's answer from the passages only; each claim followed by ``[doc p. N]`` citations."""
    numbered = "\n\n".join(f"[{n}] ({h.passage.cite()}) {h.passage.text}" for n, h in enumerate(hits, 1))
    messages = [
        {"role": "system", "content": "Answer the question using only the numbered passages. Reply with one JSON "
         "object {\"claims\": [{\"text\": ..., \"sources\": [passage numbers]}]}: every claim must cite the "
         "passages that support it. If the passages do not answer the question, make one claim saying so and "
         "cite the closest passage."},
        {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"}]
    answer = llm.structured(messages, _checked(len(hits)))
    return "\n".join(f"- {c.text} [{'; '.join(hits[s - 1].passage.cite() for s in c.sources)}]"
                     for c in answer.claims)
