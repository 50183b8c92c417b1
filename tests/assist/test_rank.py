"""Offline TF-IDF ranking (honestly labelled), the LLM schema path with a fake client, the reports, the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest
from assist_corpus import ABSTRACTS
from assist_fakes import FakeClient, valid_assessment

from tagformer.assist.interests import load_interests
from tagformer.assist.llm import LLM, LLMError, LLMSettings
from tagformer.assist.rank import LLMAssessment, assess_messages, rank_llm, rank_offline
from tagformer.assist.report import to_csv, to_html, write_reports
from tagformer.assist.schema import Contribution
from tagformer.cli.main import main
from tagformer.errors import ConfigError

ITEMS = [Contribution(id=f"c{n}", title=t, abstract=a) for n, (t, a, _) in enumerate(ABSTRACTS)]
ON_TOPIC = {f"c{n}" for n in range(15)}


def test_offline_ranking_puts_trigger_ml_first_and_says_how() -> None:
    ranked = rank_offline(ITEMS, load_interests())
    top10 = {r.contribution.id for r in ranked[:10]}
    assert len(top10 & ON_TOPIC) >= 9, [r.contribution.title for r in ranked[:10]]
    assert {r.method for r in ranked} == {"similarity: tf-idf, no LLM"}
    levels = [r.assessment.interest for r in ranked]
    assert levels == sorted(levels, key=["high", "medium", "low"].index) and "high" in levels and "low" in levels
    off = {r.contribution.title: r for r in ranked}
    assert off[ABSTRACTS[16][0]].assessment.interest == "low"  # dark energy
    first = off[ABSTRACTS[0][0]].assessment
    assert first.experiment == "CMS" and first.confidence is None and "closest interest" in first.explanation
    assert first.keywords


def test_missing_or_bad_interests_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="interests file not found"):
        load_interests(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("interested: []\n")
    with pytest.raises(ConfigError, match="interested"):
        load_interests(bad)


def _llm(replies, **kw) -> tuple[LLM, FakeClient]:
    client = FakeClient(replies, **kw)
    return LLM(client=client, model="fake", settings=LLMSettings(model="fake", price_in=1.0, price_out=2.0)), client


def test_schema_valid_first_time() -> None:
    llm, client = _llm([valid_assessment()])
    a = llm.structured(assess_messages(ITEMS[0], load_interests()), LLMAssessment)
    assert a.interest == "high" and a.confidence == 0.9 and len(client.calls) == 1
    assert client.calls[0]["response_format"] == {"type": "json_object"}
    assert llm.usage.prompt_tokens == 100 and "$0.0001" in llm.usage_line()


def test_schema_invalid_then_valid_is_retried_with_the_error() -> None:
    bad = json.dumps({"summary": "x", "interest": "very high"})
    llm, client = _llm([bad, "```json\n" + valid_assessment("low", 0.4) + "\n```"])
    a = llm.structured(assess_messages(ITEMS[0], load_interests()), LLMAssessment)
    assert a.interest == "low" and len(client.calls) == 2 and llm.usage.invalid == 1
    feedback = client.calls[1]["messages"][-1]["content"]
    assert "invalid" in feedback and "interest" in feedback and "confidence" in feedback


def test_schema_always_invalid_raises_and_rank_falls_back_offline() -> None:
    llm, client = _llm(["not json at all"])
    with pytest.raises(LLMError, match="invalid LLMAssessment output 2 times"):
        llm.structured(assess_messages(ITEMS[0], load_interests()), LLMAssessment)
    assert len(client.calls) == 2
    notes: list[str] = []
    ranked = rank_llm(ITEMS[:3], load_interests(), _llm(["{}"])[0], log=notes.append)
    assert all("LLM output invalid twice" in r.method for r in ranked) and "3 of 3" in notes[0]


def test_rank_llm_orders_by_level_and_confidence() -> None:
    replies = [valid_assessment("medium", 0.5), valid_assessment("high", 0.6), valid_assessment("high", 0.9)]
    ranked = rank_llm(ITEMS[:3], load_interests(), _llm(replies)[0])
    assert [r.contribution.id for r in ranked] == ["c2", "c1", "c0"] and ranked[0].method == "llm: fake"


def test_endpoint_refusal_is_one_clear_error() -> None:
    llm, _ = _llm([], fail=TimeoutError("timed out"))
    with pytest.raises(LLMError, match="failed on a chat request: TimeoutError"):
        rank_llm(ITEMS[:2], load_interests(), llm)


def test_reports(tmp_path) -> None:
    ranked = rank_offline(ITEMS, load_interests())
    paths = write_reports(ranked, tmp_path)
    assert [p.name for p in paths] == ["ranked.md", "ranked.csv", "ranked.html"]
    rows = list(csv.DictReader(io.StringIO(to_csv(ranked))))
    assert len(rows) == 30 and rows[0]["interest"] == "high" and rows[0]["method"] == "similarity: tf-idf, no LLM"
    page = to_html(ranked, "t")
    assert "<script" not in page and "<link" not in page and "similarity: tf-idf, no LLM" in page
    assert page.index(ranked[0].contribution.title) < page.index(ranked[-1].contribution.title)
    assert "similarity: tf-idf, no LLM" in (tmp_path / "ranked.md").read_text()


def test_cli_rank_offline_and_bad_input(tmp_path, capsys) -> None:
    src = tmp_path / "abstracts.jsonl"
    src.write_text("\n".join(json.dumps({"title": t, "abstract": a}) for t, a, _ in ABSTRACTS) + "\n")
    out = tmp_path / "out"
    args = ["assist", "rank", "--file", str(src), "--out", str(out), "--cache", "none", "--embedder", "tfidf"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ranked 30 contributions (similarity: tf-idf, no LLM)" in text and (out / "ranked.html").is_file()
    assert main(["assist", "rank", "--file", str(src), "--interests", str(tmp_path / "x.yaml")]) == 2
    assert "interests file not found" in capsys.readouterr().err
    assert main(["assist", "rank"]) == 2
    assert "needs a source" in capsys.readouterr().err


def test_cli_rank_with_an_endpoint_that_refuses(server, tmp_path, capsys) -> None:
    src = tmp_path / "a.txt"
    src.write_text("Fast tagging on FPGAs. We did things.\n")
    args = ["assist", "rank", "--file", str(src), "--out", str(tmp_path / "o"), "--cache", "none", "--llm", "m",
            "--base-url", f"{server.url}/v1", "--embedder", "tfidf"]  # a real openai client; the server answers 501
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: the LLM endpoint ({server.url}/v1, model m) failed on a chat request: " in err
    assert "Error code: 501" in err and "Traceback" not in err
