"""Pass rate of `tagformer assist plot` on eight plot requests over a tagformer (hls4ml-layout) file.

Pass = the generated script runs, writes plot.png, and the histogram it saved (histogram.json) has the same
bin edges (to 1e-6 relative) and exactly the same counts as a reference computed here from the file with
h5py and numpy. Default LLM: the embedded SmolLM2-135M-Instruct (greedy); ``--llm MODEL --base-url URL``
measures an OpenAI-compatible endpoint instead.

    python benchmarks/assist_plot_passrate.py --data jets.h5 [--attempts 2] [--max-tokens 512] [--threads 2]
    # a small file: tagformer generate jets.h5 --jets-per-class 100 --constituents 64 --seed 13

Prints a markdown table (one row per request) and the pass rate; writes every attempt under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from tagformer.assist.cache import DiskCache
from tagformer.assist.plot import error_summary, plot_loop

Ref = Callable[[h5py.File], tuple[np.ndarray, np.ndarray]]


def _names(f: h5py.File, key: str) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in f[key][:]]


def _jet(f: h5py.File, name: str) -> np.ndarray:
    return f["jets"][:, _names(f, "jetFeatureNames").index(name)]


def _label(f: h5py.File) -> np.ndarray:
    return f["jets"][:, -5:].argmax(1)  # g, q, w, z, t


def _cons(f: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    c = f["jetConstituentList"][:]
    return c, (c[..., 5] > 0) | (c[..., 3] != 0)


def _hist(values: np.ndarray, bins: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return edges, counts


def _multiplicity(f: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    _, mask = _cons(f)
    return _hist(mask.sum(1), 65, -0.5, 64.5)


def _delta_r(f: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    c, mask = _cons(f)
    return _hist(c[..., 13][mask], 40, 0.0, 0.8)


def _parent_mass_top(f: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    t = f["jetTargets"][:, _names(f, "jetTargetNames").index("parent_mass")][_label(f) == 4]
    return _hist(t[~np.isnan(t)], 25, 150.0, 200.0)


#: (request, reference) pairs; every request names the column, selection, range and bins it wants.
REQUESTS: list[tuple[str, Ref]] = [
    ("Histogram of the jet pT (the j_pt column of the jets dataset) from 500 to 1500 GeV in 50 bins.",
     lambda f: _hist(_jet(f, "j_pt"), 50, 500.0, 1500.0)),
    ("Histogram of the jet mass (j_mass column) of top-quark jets only, from 0 to 300 GeV in 30 bins.",
     lambda f: _hist(_jet(f, "j_mass")[_label(f) == 4], 30, 0.0, 300.0)),
    ("Histogram of the number of real constituents per jet (particles with pt > 0 or e != 0 in "
     "jetConstituentList), one bin per integer from 0 to 64 (65 bins from -0.5 to 64.5).", _multiplicity),
    ("Histogram of the pT fraction of the leading constituent (the ptrel column of the first particle of "
     "each jet) from 0 to 1 in 20 bins.", lambda f: _hist(_cons(f)[0][:, 0, 6], 20, 0.0, 1.0)),
    ("Histogram of the deltaR column of all real constituents of all jets, from 0 to 0.8 in 40 bins.", _delta_r),
    ("Histogram of the soft-drop mass (j_mass_mmdt column) of W and Z jets together, from 0 to 200 GeV in "
     "40 bins.", lambda f: _hist(_jet(f, "j_mass_mmdt")[np.isin(_label(f), (2, 3))], 40, 0.0, 200.0)),
    ("Histogram of the N-subjettiness ratio tau21 (j_tau21_b1 column) of W jets, from 0 to 1 in 25 bins.",
     lambda f: _hist(_jet(f, "j_tau21_b1")[_label(f) == 2], 25, 0.0, 1.0)),
    ("Histogram of the generated parent mass (parent_mass in jetTargets) of top jets, NaN values dropped, from "
     "150 to 200 GeV in 25 bins.", _parent_mass_top),
]


def check(out: Path, reference: tuple[np.ndarray, np.ndarray]) -> str:
    """'match', or why not."""
    path = out / "histogram.json"
    if not path.is_file():
        return "no histogram.json"
    try:
        h = json.loads(path.read_text())
        if isinstance(h, dict) and "histograms" in h and len(h["histograms"]) == 1:
            h = h["histograms"][0]
        edges, counts = np.asarray(h["edges"], float), np.asarray(h["counts"], float)
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable histogram.json ({type(exc).__name__})"
    ref_edges, ref_counts = reference
    if edges.shape != ref_edges.shape or not np.allclose(edges, ref_edges, rtol=1e-6, atol=1e-9):
        return f"other bins ({edges.size - 1} from {edges[:1]} to {edges[-1:]})" if edges.size else "no bins"
    if not np.array_equal(counts, ref_counts):
        return f"other counts (sum {counts.sum():g} vs {ref_counts.sum():g})"
    return "match"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="an hls4ml-layout HDF5 file (tagformer generate)")
    ap.add_argument("--out", default="assist-plot-passrate")
    ap.add_argument("--attempts", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="time limit of one script run (s)")
    ap.add_argument("--max-tokens", type=int, default=512, help="embedded LLM: most tokens per reply")
    ap.add_argument("--threads", type=int, default=2, help="embedded LLM: torch CPU threads")
    ap.add_argument("--llm", help="an endpoint's model instead of the embedded SmolLM2")
    ap.add_argument("--base-url")
    ap.add_argument("--only", type=int, nargs="*", help="request numbers (1-based) to run")
    args = ap.parse_args()

    start = time.perf_counter()
    if args.llm:
        from tagformer.assist.llm import LLM, LLMSettings

        settings = LLMSettings(model=args.llm, base_url=args.base_url).resolved()
        llm = LLM.from_settings(settings, DiskCache(None))
    else:
        from tagformer.assist.local_llm import embedded_llm

        llm = embedded_llm(DiskCache(None), purpose="code", max_tokens=args.max_tokens, threads=args.threads)
    load_s = time.perf_counter() - start
    rows, passed, runs = [], 0, 0
    with h5py.File(args.data, "r") as f:
        references = [ref(f) for _, ref in REQUESTS]
    for n, ((request, _), reference) in enumerate(zip(REQUESTS, references), 1):
        if args.only and n not in args.only:
            continue
        out = Path(args.out) / f"{n:02d}"
        t0 = time.perf_counter()
        result = plot_loop(request, args.data, llm, out, attempts=args.attempts, timeout_s=args.timeout,
                           log=lambda line, n=n: print(f"  [{n}] {line}", flush=True))
        seconds = time.perf_counter() - t0
        failure = error_summary(result.last_error).replace("|", "/")
        verdict = check(out, reference) if result.ok else f"did not run: {failure}"
        ok = verdict == "match"
        passed += ok
        runs += 1
        rows.append(f"| {n} | {request} | {'yes' if result.ok else 'no'} | {verdict} | {result.attempts} | "
                    f"{seconds:.0f} | **{'pass' if ok else 'fail'}** |")
        print(rows[-1], flush=True)
    print(f"\nLLM: {llm.model}; load {load_s:.1f} s; attempts {args.attempts}; script time limit {args.timeout:g} s; "
          f"data {args.data}\n")
    print("| # | request | script ran | histogram vs reference | attempts | s | result |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\npass rate: {passed}/{runs}")
    print(llm.usage_line())


if __name__ == "__main__":
    main()
