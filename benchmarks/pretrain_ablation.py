"""Pretraining ablation (docs/pretraining.md, "Measured results"): scratch vs mpm vs jjepa vs rino, linear
probe and full fine-tune, at several label fractions, for several encoders and seeds.

Three steps, each idempotent (finished runs are skipped, interrupted ones resume), so a killed ablation is
continued by running the same command again:

1. ``split``: from one labelled hls4ml-layout file, write two disjoint files: ``pool.h5`` (the jets after
   the first ``--finetune-jets``; the pretraining pool, labels never read) and ``finetune.h5`` (the first
   ``--finetune-jets`` jets; its own train/val/test split), plus ``pool_qg.h5`` (the pool's q and g jets only:
   the QCD-only pretraining variant). Jets are copied row by row with h5py, every dataset of the layout kept.
2. ``pretrain``: one ``tagformer pretrain`` run per (model, method, pool) into ``OUT/pt/``.
3. ``finetune``: one ``tagformer train`` run per (model, start, mode, fraction, seed) into ``OUT/ft/``, then
   ``tagformer evaluate`` on the fine-tuning file's test split; one JSON line per run in ``OUT/results.jsonl``.
   start = scratch | mpm | jjepa | rino (| mpm-qg ... with ``--qg mpm``); mode = finetune | probe (probe for the
   all-jets pretrained starts; probes train the head with lr ``PROBE_LR``).

``--shard i/n`` runs every n-th job of a step (two processes on a 2-core box). ``table`` prints the
markdown table (mean +- sample std over seeds of test accuracy and R0.8).

    python benchmarks/pretrain_ablation.py split --source JETS.h5 --out runs/ablation --finetune-jets 10000
    python benchmarks/pretrain_ablation.py pretrain --out runs/ablation --shard 0/2 &
    python benchmarks/pretrain_ablation.py finetune --out runs/ablation --shard 0/2 &
    python benchmarks/pretrain_ablation.py table --out runs/ablation [--plot ablation.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

MODELS = ("phat_small", "transformer_tiny", "lorentz_part_tiny")
METHODS = ("mpm", "jjepa", "rino")
FRACTIONS = (0.01, 0.1, 1.0)
#: label fraction -> (epochs, batch size): about 200 optimiser steps each on a 10,000-jet fine-tuning file
BUDGET = {0.01: (60, 32), 0.1: (15, 64), 1.0: (6, 256)}
#: learning rate of a linear probe (frozen encoder: only the head trains, so a larger step than fine-tuning's)
PROBE_LR = 1e-2
COMMON = ["data.num_particles=32", "trainer.progress=false", "trainer.threads=1", "trainer.accelerator=cpu",
          "trainer.limit_val_batches=8"]
HLS4ML_LABELS = ("j_g", "j_q", "j_w", "j_z", "j_t")


def split(source: Path, out: Path, finetune_jets: int) -> None:
    """Write finetune.h5, pool.h5 and pool_qg.h5 (see the module docstring); existing files are kept."""
    import h5py
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    with h5py.File(source, "r") as f:
        n = f["jets"].shape[0]
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in f["jetFeatureNames"][:]]
        labels = f["jets"][:, [names.index(c) for c in HLS4ML_LABELS]].argmax(1)
        parts = {"finetune.h5": np.arange(finetune_jets), "pool.h5": np.arange(finetune_jets, n)}
        parts["pool_qg.h5"] = parts["pool.h5"][labels[finetune_jets:] <= 1]
        for name, rows in parts.items():
            target = out / name
            if target.exists():
                continue
            tmp = target.with_suffix(".tmp")
            with h5py.File(tmp, "w") as g:
                for key, ds in f.items():
                    if isinstance(ds, h5py.Dataset) and ds.shape and ds.shape[0] == n:
                        g.create_dataset(key, data=ds[rows], compression="gzip", compression_opts=1)
                    else:  # names, metadata group: copied whole
                        f.copy(ds, g, name=key)
            tmp.rename(target)
            print(f"wrote {target}: {len(rows)} jets", flush=True)


def pretrain_jobs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    jobs = [(m, meth, "all") for m in args.models for meth in args.methods]
    return jobs + [(m, meth, "qg") for m in args.models for meth in args.qg]


def finetune_jobs(args: argparse.Namespace) -> list[tuple[str, str, str, float, int]]:
    starts = ["scratch", *args.methods, *(f"{m}-qg" for m in args.qg)]
    jobs = []
    for seed in args.seeds:
        for frac in args.fractions:
            for model in args.models:
                for start in starts:
                    for mode in (["finetune"] if start == "scratch" or start.endswith("-qg")
                                 else ["finetune", "probe"]):
                        jobs.append((model, start, mode, frac, seed))
    return jobs


def _pt_dir(out: Path, model: str, method: str, pool: str) -> Path:
    return out / "pt" / f"{model}-{method}-{pool}"


def run_pretrain(args: argparse.Namespace) -> None:
    from tagformer.pretrain.config import build_pretrain_config
    from tagformer.pretrain.run import pretrain

    for model, method, pool in pretrain_jobs(args)[args.shard[0]::args.shard[1]]:
        run = _pt_dir(args.out, model, method, pool)
        if (run / "summary.json").exists():
            print(f"{run}: done", flush=True)
            continue
        data = args.out / ("pool.h5" if pool == "all" else "pool_qg.h5")
        t0 = time.perf_counter()
        resume = (run / "config.yaml").exists()
        cfg = None if resume else build_pretrain_config(
            model=model, data=str(data), method=method,
            overrides=[*COMMON, f"data.max_jets={args.pretrain_jets}", f"trainer.max_epochs={args.pretrain_epochs}",
                       f"trainer.patience={args.pretrain_epochs}", "seed=0", *args.overrides])
        try:
            s = pretrain(cfg, run, resume=resume)
        except Exception as exc:  # report and go on with the other jobs
            print(f"{run}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"{run}: val_loss {s.get('best_val_loss')} emb_std {s.get('emb_std')} "
              f"rank {s.get('emb_rank')} collapsed {s.get('collapsed')} ({time.perf_counter() - t0:.0f} s)",
              flush=True)


def _r08(metrics: dict[str, Any]) -> float | None:
    avg = metrics.get("rejection_average") or {}
    return avg.get("0.8")


def run_finetune(args: argparse.Namespace) -> None:
    from tagformer.config import build_config
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.train.run import train

    results = args.out / "results.jsonl"
    for model, start, mode, frac, seed in finetune_jobs(args)[args.shard[0]::args.shard[1]]:
        run = args.out / "ft" / f"{model}-{start}-{mode}-f{frac:g}-seed{seed}"
        if (run / "metrics.json").exists():
            print(f"{run}: done", flush=True)
            continue
        epochs, batch = BUDGET[frac]
        overrides = [*COMMON, f"seed={seed}", f"data.label_fraction={frac}", f"trainer.max_epochs={epochs}",
                     f"trainer.patience={epochs}", f"data.batch_size={batch}", *args.overrides]
        if start != "scratch":
            method, _, pool = start.partition("-")
            overrides.append(f"finetune.init_from={_pt_dir(args.out, model, method, pool or 'all')}")
            if mode == "probe":
                overrides += ["finetune.freeze_encoder=true", f"optim.lr={PROBE_LR}"]
        t0 = time.perf_counter()
        try:
            if not (run / "summary.json").exists():
                resume = (run / "config.yaml").exists()
                cfg = None if resume else build_config(model=model, data=str(args.out / "finetune.h5"),
                                                       overrides=overrides)
                train(cfg, run, resume=resume)
            m = evaluate_run(run, plots=False)
        except Exception as exc:  # report and go on with the other jobs
            print(f"{run}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        row = {"model": model, "start": start, "mode": mode, "fraction": frac, "seed": seed,
               "accuracy": float(m["accuracy"]), "r08": _r08(m), "seconds": time.perf_counter() - t0}
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"{run}: acc {row['accuracy']:.4f} R0.8 {row['r08']} ({row['seconds']:.0f} s)", flush=True)


def _ms(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    sd = statistics.stdev(xs) if len(xs) > 1 else float("nan")
    return f"{statistics.fmean(xs):.3f} ± {sd:.3f}"


def _results(out: Path) -> dict[tuple, dict]:
    """``OUT/results.jsonl`` keyed by (model, start, mode, fraction, seed); the last line of a key counts."""
    rows: dict[tuple, dict] = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[(r["model"], r["start"], r["mode"], r["fraction"], r["seed"])] = r
    return rows


def table(out: Path) -> str:
    """Markdown: one row per (model, start, mode), one column pair per label fraction (the last run of a
    (model, start, mode, fraction, seed) counts)."""
    rows = _results(out)
    groups: dict[tuple, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for (model, start, mode, frac, _), r in sorted(rows.items()):
        groups[(model, start, mode)][frac].append(r)
    fracs = sorted({k[3] for k in rows})
    head = "| model | start | mode | " + " | ".join(f"acc {f:.0%} | R0.8 {f:.0%}" for f in fracs) + " | seeds |"
    lines = [head, "|" + "---|" * (4 + 2 * len(fracs))]
    for (model, start, mode), by in groups.items():
        cells = []
        for f in fracs:
            rs = by.get(f, [])
            cells += [_ms([r["accuracy"] for r in rs]), _ms([r["r08"] for r in rs if r["r08"] is not None])]
        seeds = max((len(v) for v in by.values()), default=0)
        lines.append(f"| {model} | {start} | {mode} | " + " | ".join(cells) + f" | {seeds} |")
    return "\n".join(lines)


def plot(out: Path, path: Path) -> None:
    """One panel per model: mean test accuracy (+- sample std over seeds) against the label fraction, one
    line per start; full fine-tunes solid, linear probes dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _results(out)
    models = [m for m in MODELS if any(k[0] == m for k in rows)]
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 4.2), sharey=True, squeeze=False)
    colours = {"scratch": "black", "mpm": "C0", "jjepa": "C1", "rino": "C2", "mpm-qg": "C3", "rino-qg": "C4"}
    for ax, model in zip(axes[0], models):
        for start in colours:
            for mode, style in (("finetune", "-"), ("probe", "--")):
                pts = defaultdict(list)
                for (m, s, md, frac, _), r in rows.items():
                    if (m, s, md) == (model, start, mode):
                        pts[frac].append(r["accuracy"])
                if not pts:
                    continue
                fr = sorted(pts)
                mean = [statistics.fmean(pts[f]) for f in fr]
                sd = [statistics.stdev(pts[f]) if len(pts[f]) > 1 else 0.0 for f in fr]
                ax.errorbar(fr, mean, yerr=sd, color=colours[start], ls=style, marker="o", ms=4, capsize=3,
                            label=f"{start} ({'fine-tune' if mode == 'finetune' else 'probe'})")
        ax.set_xscale("log")
        ax.set_xticks(sorted({k[3] for k in rows}), [f"{f:.0%}" for f in sorted({k[3] for k in rows})])
        ax.axhline(0.2, color="grey", lw=0.8, ls=":")
        ax.set_title(model)
        ax.set_xlabel("label fraction of the fine-tuning training split")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (5 classes; chance 0.20 dotted)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["split", "pretrain", "finetune", "table"])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--source", type=Path, help="labelled hls4ml-layout file (split)")
    p.add_argument("--finetune-jets", type=int, default=10000)
    p.add_argument("--pretrain-jets", type=int, default=20000)
    p.add_argument("--pretrain-epochs", type=int, default=3)
    p.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS))
    p.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    p.add_argument("--fractions", type=lambda s: [float(x) for x in s.split(",")], default=list(FRACTIONS))
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--qg", type=lambda s: [m for m in s.split(",") if m], default=[],
                   help="methods also pretrained on the q/g-only pool (fine-tuned, not probed), e.g. mpm")
    p.add_argument("--shard", type=lambda s: tuple(int(x) for x in s.split("/")), default=(0, 1))
    p.add_argument("--plot", type=Path, help="table: also draw accuracy against label fraction into this PNG")
    p.add_argument("overrides", nargs="*", help="dotted config overrides for every run of the step")
    args = p.parse_args()
    if args.step in ("pretrain", "finetune"):
        import torch

        torch.set_num_threads(1)
    if args.step == "split":
        split(args.source, args.out, args.finetune_jets)
    elif args.step == "pretrain":
        run_pretrain(args)
    elif args.step == "finetune":
        run_finetune(args)
    else:
        print(table(args.out))
        if args.plot:
            plot(args.out, args.plot)


if __name__ == "__main__":
    main()
