"""A fake OpenAI-compatible client (no network) and valid/invalid LLM replies for the assist tests."""

from __future__ import annotations

import json
from types import SimpleNamespace


class FakeClient:
    """An OpenAI-like client whose chat replies come from ``replies`` (a list, one per call, the last one
    repeated) and whose embeddings are bag-of-letters vectors; records every request."""

    def __init__(self, replies: list[str] | None = None, fail: Exception | None = None) -> None:
        self.replies = list(replies or [])
        self.fail = fail
        self.calls: list[dict] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))
        self.embeddings = SimpleNamespace(create=self._embed)

    def _create(self, **kwargs):
        if self.fail:
            raise self.fail
        self.calls.append(kwargs)
        text = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if callable(text):
            text = text(kwargs)
        usage = SimpleNamespace(prompt_tokens=100, completion_tokens=20)
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text))], usage=usage)

    def _embed(self, model: str, input: list[str]):
        def vec(t: str) -> list[float]:
            return [float(t.lower().count(c)) + 0.01 for c in "abcdefghijklmnopqrstuvwxyz"]

        return SimpleNamespace(data=[SimpleNamespace(embedding=vec(t)) for t in input])


def valid_assessment(interest: str = "high", confidence: float = 0.9) -> str:
    return json.dumps({"summary": "A fast tagger.", "experiment": "CMS", "keywords": ["FPGA", "jet tagging"],
                       "interest": interest, "explanation": "matches FPGA trigger interests",
                       "confidence": confidence, "unknown_terms": []})
