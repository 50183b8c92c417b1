"""arXiv (Atom, through the arxiv client) and Indico (export JSON) served locally; caches; local files."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from assist_corpus import ABSTRACTS, atom_feed, indico_export

from tagformer.assist.cache import DiskCache
from tagformer.assist.sources.arxiv import arxiv_query, fetch_arxiv
from tagformer.assist.sources.indico import export_url, fetch_indico, parse_export
from tagformer.assist.sources.local import read_abstracts
from tagformer.errors import ConfigError, DataError


def test_arxiv_query_spelling() -> None:
    q = arxiv_query(["hep-ex", "physics.ins-det"], "2025-01-01", "2025-01-31")
    assert q == "(cat:hep-ex OR cat:physics.ins-det) AND submittedDate:[202501010000 TO 202501312359]"
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        arxiv_query(["hep-ex"], "01/01/2025")


def test_arxiv_listing_through_the_client_then_offline_from_cache(server, tmp_path) -> None:
    server.routes["/api/query"] = (200, "application/atom+xml", atom_feed().encode())
    cache, notes = DiskCache(tmp_path / "cache"), []
    kw = {"query_url": f"{server.url}/api/query?{{}}", "delay_s": 0.0, "retries": 0, "cache": cache,
          "log": notes.append}
    got = fetch_arxiv(["hep-ex"], "2025-01-01", "2025-01-31", **kw)
    assert [c.title for c in got] == [t for t, _, _ in ABSTRACTS]
    first = got[0]
    assert first.id == "arXiv:2501.00001v1" and first.authors == ["A. Author1", "B. Author1"]
    assert first.abstract.startswith("We present a transformer jet tagger") and first.source == "arxiv:hep-ex"
    asked = parse_qs(urlsplit(server.requests[0]).query)["search_query"][0]
    assert "cat:hep-ex" in asked and "submittedDate:[202501010000 TO 202501312359]" in asked
    server.close()  # no network now: the cached listing answers, with a note
    again = fetch_arxiv(["hep-ex"], "2025-01-01", "2025-01-31", **kw)
    assert [c.id for c in again] == [c.id for c in got] and "unreachable" in notes[0]
    with pytest.raises(DataError, match="cannot reach arXiv"):
        fetch_arxiv(["hep-ex"], "2024-01-01", "2024-01-31", **kw)  # another query: nothing cached


def test_indico_export_served_locally_then_cached(server, tmp_path) -> None:
    server.routes["/export/event/1234567.json"] = (200, "application/json", indico_export().encode())
    cache, notes = DiskCache(tmp_path / "c"), []
    got = fetch_indico(f"{server.url}/event/1234567/timetable/", cache=cache, delay_s=0, log=notes.append)
    assert len(got) == len(ABSTRACTS) and {c.title for c in got} == {t for t, _, _ in ABSTRACTS}
    talk = next(c for c in got if c.title == ABSTRACTS[0][0])
    assert talk.authors == ["Alex Author1"] and "<p>" not in talk.abstract and talk.source == "indico:1234567"
    assert "detail=contributions" in server.requests[0]
    server.close()
    assert len(fetch_indico(f"{server.url}/event/1234567/", cache=cache, delay_s=0, log=notes.append)) == 30
    assert "unreachable" in notes[0]
    with pytest.raises(DataError, match="no cached answer"):
        fetch_indico(f"{server.url}/event/99/", cache=cache, delay_s=0, timeout_s=2)


def test_indico_bad_address_and_answer() -> None:
    assert export_url("https://indico.cern.ch/event/1330797/") == \
        "https://indico.cern.ch/export/event/1330797.json?detail=contributions&pretty=no"
    with pytest.raises(ConfigError, match="not an Indico event"):
        export_url("https://example.org/talks")
    with pytest.raises(DataError, match="not an export-API result"):
        parse_export({"error": "denied"})


def test_local_files(tmp_path) -> None:
    jl = tmp_path / "a.jsonl"
    jl.write_text("\n".join(json.dumps({"title": t, "abstract": a}) for t, a, _ in ABSTRACTS[:3]) + "\n")
    md = tmp_path / "a.md"
    md.write_text("# notes\n\n## First talk\nAbout FPGAs.\nMore text.\n\n## Second\nAbout GPUs.\n")
    txt = tmp_path / "a.txt"
    txt.write_text("Fast tagging on FPGAs. We did things.\n\nSlow tagging. Other things.\n")
    assert [c.title for c in read_abstracts(jl)] == [t for t, _, _ in ABSTRACTS[:3]]
    m = read_abstracts(md)
    assert [(c.title, c.abstract) for c in m] == [("First talk", "About FPGAs. More text."), ("Second", "About GPUs.")]
    assert [c.title for c in read_abstracts(txt)] == ["Fast tagging on FPGAs", "Slow tagging"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x", "abstract": "y"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2"):
        read_abstracts(bad)
    with pytest.raises(DataError, match="no such file"):
        read_abstracts(tmp_path / "missing.jsonl")
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(DataError, match="unknown suffix"):
        read_abstracts(tmp_path / "a.pdf")
