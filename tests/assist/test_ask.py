"""The library: ingestion (incremental, resumable, unreadable files counted), hybrid retrieval of a planted
passage with its page, LLM answers that cite every claim, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from assist_docs import PLANTED, write_library
from assist_fakes import FakeClient

from tagformer.assist.ask import answer_llm, retrieve
from tagformer.assist.embed import HashedTfidf, LLMEmbedder
from tagformer.assist.library import ingest
from tagformer.assist.llm import LLM, LLMSettings
from tagformer.assist.retrieve import rrf
from tagformer.cli.main import main


def _counts(store: Path) -> dict[str, int]:
    conn = sqlite3.connect(store)
    try:
        docs = conn.execute("SELECT path, COUNT(*) FROM documents GROUP BY path").fetchall()
        assert all(n == 1 for _, n in docs)
        return {"docs": len(docs), "chunks": conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
                "fts": conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return write_library(tmp_path_factory.mktemp("lib") / "library")


def test_ingest_counts_unreadable_and_is_incremental(library, tmp_path) -> None:
    store = tmp_path / "s.sqlite"
    notes: list[str] = []
    first = ingest(library, store, HashedTfidf(), log=notes.append)
    assert sorted(first.added) == ["a.pdf", "b.pdf", "log.txt", "notes.md"]
    assert [p for p, _ in first.unreadable] == ["broken.pdf"] and "skipped broken.pdf" in notes[0]
    counts = _counts(store)
    assert counts["docs"] == 4 and counts["chunks"] == counts["fts"] == first.chunks > 0
    again = ingest(library, store, HashedTfidf(), log=notes.append)
    assert again.added == [] and again.skipped == 4 and _counts(store) == counts


def test_changed_file_replaces_its_old_passages(tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "n.txt").write_text("first version about pixels\n")
    store = tmp_path / "s.sqlite"
    ingest(lib, store, HashedTfidf())
    (lib / "n.txt").write_text("second version about strips\n")
    assert ingest(lib, store, HashedTfidf()).added == ["n.txt"]
    assert _counts(store) == {"docs": 1, "chunks": 1, "fts": 1}
    assert "strips" in retrieve(store, HashedTfidf(), "strips", 1)[0].passage.text


def test_retrieval_finds_the_planted_passage_with_its_page(library, tmp_path) -> None:
    store = tmp_path / "s.sqlite"
    ingest(library, store, HashedTfidf(), log=lambda _: None)
    hits = retrieve(store, HashedTfidf(), "What is the wombat calibration constant?", 3)
    assert PLANTED in hits[0].passage.text and hits[0].passage.cite() == "b.pdf p. 2"
    assert hits[0].vector_rank == 1 and hits[0].keyword_rank == 1


def test_rrf_fuses_rankings() -> None:
    fused = rrf([[1, 2, 3], [3, 1]])
    assert max(fused, key=fused.get) == 1 and fused[3] > fused[2]


_SLOW = """
import sys, time
from tagformer.assist.embed import HashedTfidf
from tagformer.assist.library import ingest
class Slow(HashedTfidf):
    def encode(self, texts):
        time.sleep(0.4)
        return super().encode(texts)
ingest(sys.argv[1], sys.argv[2], Slow(), log=lambda _: None)
"""


def test_killed_ingestion_resumes_without_indexing_twice(tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for n in range(8):
        (lib / f"doc{n}.txt").write_text(f"Document {n} about topic {n} and jets.\nSecond line {n}.\n")
    store = tmp_path / "s.sqlite"
    script = tmp_path / "slow.py"
    script.write_text(_SLOW)
    proc = subprocess.Popen([sys.executable, str(script), str(lib), str(store)], env={**os.environ})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store.exists() and _docs_or_zero(store) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _docs_or_zero(store)
    assert 2 <= done < 8, done  # killed in the middle
    stats = ingest(lib, store, HashedTfidf())
    assert stats.skipped == done and len(stats.added) == 8 - done
    assert _counts(store) == {"docs": 8, "chunks": 8, "fts": 8}


def _docs_or_zero(store: Path) -> int:
    try:
        conn = sqlite3.connect(store, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def _llm(replies) -> tuple[LLM, FakeClient]:
    client = FakeClient(replies)
    return LLM(client=client, model="fake", settings=LLMSettings(model="fake", embed_model="fake-embed")), client


def test_llm_answer_cites_every_claim_and_rejects_unknown_sources(library, tmp_path) -> None:
    store = tmp_path / "s.sqlite"
    ingest(library, store, HashedTfidf(), log=lambda _: None)
    hits = retrieve(store, HashedTfidf(), "wombat calibration constant", 3)
    wrong = json.dumps({"claims": [{"text": "It is 42.7 counts per GeV.", "sources": [9]}]})
    right = json.dumps({"claims": [{"text": "It is 42.7 counts per GeV.", "sources": [1]},
                                   {"text": "It belongs to the level-1 tagger.", "sources": [1, 2]}]})
    llm, client = _llm([wrong, right])
    text = answer_llm("What is the wombat constant?", hits, llm)
    assert len(client.calls) == 2 and "not passage numbers" in client.calls[1]["messages"][-1]["content"]
    lines = text.splitlines()
    assert lines[0] == "- It is 42.7 counts per GeV. [b.pdf p. 2]" and all(line.endswith("]") for line in lines)


def test_llm_embeddings_and_switching_embedder_reembeds(library, tmp_path) -> None:
    store = tmp_path / "s.sqlite"
    ingest(library, store, HashedTfidf(), log=lambda _: None)
    llm, _ = _llm(["{}"])
    notes: list[str] = []
    stats = ingest(library, store, LLMEmbedder(llm), log=notes.append)
    assert stats.added == [] and notes[0].startswith("re-embedding") and "llm:fake-embed" in notes[0]
    assert retrieve(store, LLMEmbedder(llm), "wombat calibration constant", 2)[0].keyword_rank == 1


def test_cli_ask_offline_and_bad_input(library, tmp_path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    args = ["assist", "ask", "What is the wombat calibration constant?", "--library", str(library),
            "--store", str(store), "--top", "2", "--cache", "none", "--embedder", "tfidf"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "[1] b.pdf p. 2" in captured.out and "no LLM" in captured.out and PLANTED in captured.out
    assert "1 unreadable (skipped)" in captured.err
    assert main(["assist", "ask", "  ", "--library", str(library)]) == 2
    assert "question is empty" in capsys.readouterr().err
    assert main(["assist", "ask", "q", "--library", str(tmp_path / "none")]) == 2
    assert "no such library folder" in capsys.readouterr().err


def test_cli_ask_llm_invalid_twice_shows_the_passages_and_fails(library, tmp_path, capsys, monkeypatch) -> None:
    client = FakeClient(['{"claims": "not a list"}'])
    llm = LLM(client=client, model="fake", settings=LLMSettings(model="fake"))
    monkeypatch.setattr("tagformer.cli.assist._llm", lambda args, cache, purpose="chat": llm)
    args = ["assist", "ask", "What is the wombat calibration constant?", "--library", str(library),
            "--store", str(tmp_path / "s.sqlite"), "--top", "2", "--cache", "none", "--embedder", "tfidf"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert len(client.calls) == 2 and "invalid Answer output 2 times" in err
    assert "invalid twice: passages, not an answer" in out and "[1] b.pdf p. 2" in out and PLANTED in out
    assert "2 calls" in out and "2 invalid replies" in out
