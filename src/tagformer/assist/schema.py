"""Typed records of the assistant: a contribution (paper or talk), the assessment an LLM (or the offline
ranker) fills for it, and the answers of ``ask``. The LLM's JSON is validated against these models."""

from __future__ import annotations

from typing import Literal

import pydantic

Interest = Literal["high", "medium", "low"]
INTEREST_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2}


class Contribution(pydantic.BaseModel):
    """One paper or talk: what a source yields, before any ranking."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = []
    url: str = ""
    date: str = ""
    source: str = ""  # "arxiv:hep-ex", "indico:EVENT", "file:NAME"


class Assessment(pydantic.BaseModel):
    """The schema an LLM fills for one contribution (``extra="forbid"``: unknown keys are invalid output)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    summary: str = pydantic.Field(min_length=1, description="one or two sentences: what was done and found")
    experiment: str = pydantic.Field(description="experiment or collaboration (ATLAS, CMS, ...) or 'none'")
    keywords: list[str] = pydantic.Field(description="3 to 8 keywords")
    interest: Interest = pydantic.Field(description="interest for the reader given the interests file")
    explanation: str = pydantic.Field(min_length=1, description="why this interest level, citing the interests")
    confidence: float | None = pydantic.Field(default=None, ge=0.0, le=1.0,
                                              description="confidence in the interest level, 0..1")
    unknown_terms: list[str] = pydantic.Field(default=[], description="terms the model did not understand")


class Ranked(pydantic.BaseModel):
    """A contribution with its assessment, the numeric score it was sorted by and the method that made it."""

    contribution: Contribution
    assessment: Assessment
    score: float
    method: str


class Claim(pydantic.BaseModel):
    """One statement of an answer and the numbers of the passages that support it."""

    model_config = pydantic.ConfigDict(extra="forbid")

    text: str = pydantic.Field(min_length=1)
    sources: list[int] = pydantic.Field(min_length=1, description="passage numbers [1..n] supporting the claim")


class Answer(pydantic.BaseModel):
    """An LLM answer of ``ask``: every claim cites at least one retrieved passage."""

    model_config = pydantic.ConfigDict(extra="forbid")

    claims: list[Claim]
