"""Accuracy vs LUTs of ``tagformer fpga`` reports (docs/fpga.md): a Pareto plot and the markdown table.

    .venv/bin/python benchmarks/fpga_pareto.py runs/fpga/*/fpga.json --out docs/figures/fpga/pareto.png

Each point is one (model, N, bits) row: the emulated (fixed-point, bit-exact) accuracy against da4ml's LUT
estimate, log scale. Filled markers meet the 100 ns trigger budget at the report's clock, open ones do not;
the grey line joins the Pareto-optimal points (no other point is both more accurate and cheaper); the dashed
line is the whole LUT count of a VU13P. The table
printed on stdout has one line per row with the settings of its report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MARKERS = {"deepsets": "o", "transformer": "s", "salt": "^", "linformer": "D", "phat": "P"}
#: LUTs of the trigger's FPGA (Virtex UltraScale+ VU13P), drawn as a dashed line.
VU13P_LUTS = 1_728_000


def load_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """Every row of the reports, with its report's model, preset and fine-tuning epochs attached."""
    rows = []
    for path in paths:
        report = json.loads(path.read_text())
        for row in report["rows"]:
            rows.append({**row, "model": report["model"], "preset": report["preset"],
                         "finetune_epochs": report["finetune_epochs"], "budget_ns": report["budget_ns"]})
    return sorted(rows, key=lambda r: (r["preset"], r["particles"], r["bits"]))


def pareto(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row beats on both accuracy (higher) and LUTs (lower), cheapest first."""
    front, best = [], -1.0
    for r in sorted(rows, key=lambda r: (r["luts"], -r["accuracy_emulated"])):
        if r["accuracy_emulated"] > best:
            front.append(r)
            best = r["accuracy_emulated"]
    return front


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| model | N | bits | float acc | variant float acc | fixed-point before fine-tune | fixed-point after "
            "| emulated | mismatches | LUT (est.) | adder stages | latency ns @ MHz | fits 100 ns | trace s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['particles']} | {r['bits']} | {r['accuracy_float']:.3f} | "
            f"{r['accuracy_variant_float']:.3f} | {r['accuracy_quantised_before_finetune']:.3f} | "
            f"{r['accuracy_quantised']:.3f} | {r['accuracy_emulated']:.3f} | {r['emulation_mismatched_jets']} | "
            f"{r['luts'] / 1e3:.0f}k | {r['adder_stages']:.0f} | {r['latency_ns']:.0f} @ {r['clock_mhz']:.0f} | "
            f"{'yes' if r['fits_budget'] else 'no'} | {r['trace_seconds']:.0f} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    colors = {n: c for n, c in zip(sorted({r["particles"] for r in rows}), ("C0", "C1", "C2", "C3", "C4"),
                                   strict=False)}
    for r in rows:
        fits = r["fits_budget"]
        ax.scatter(r["luts"], r["accuracy_emulated"], marker=MARKERS.get(r["model"], "x"), s=60,
                   facecolors=colors.get(r["particles"], "k") if fits else "none",
                   edgecolors=colors.get(r["particles"], "k"), linewidths=1.5)
        ax.annotate(f"{r['preset']} {r['bits']}b", (r["luts"], r["accuracy_emulated"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    front = pareto(rows)
    ax.plot([r["luts"] for r in front], [r["accuracy_emulated"] for r in front], color="grey", lw=1, zorder=0,
            label="Pareto front")
    for model, marker in MARKERS.items():
        if any(r["model"] == model for r in rows):
            ax.scatter([], [], marker=marker, facecolors="none", edgecolors="k", label=model)
    for n, c in colors.items():
        ax.scatter([], [], marker="s", color=c, label=f"N = {n}")
    ax.scatter([], [], marker="o", facecolors="k", edgecolors="k", label="fits 100 ns (filled)")
    ax.axvline(VU13P_LUTS, color="k", ls="--", lw=1, label="all LUTs of a VU13P (1.73M)")
    ax.set_xscale("log")
    ax.set_xlabel("LUTs (da4ml estimate)")
    ax.set_ylabel("fixed-point accuracy (bit-exact emulation)")
    ax.set_title("Generated 5-class jets: accuracy vs LUTs")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reports", nargs="+", type=Path, help="fpga.json files written by tagformer fpga")
    p.add_argument("--out", type=Path, default=Path("docs/figures/fpga/pareto.png"))
    args = p.parse_args()
    rows = load_rows(args.reports)
    plot(rows, args.out)
    print(table(rows))
    front = [f"{r['preset']} N={r['particles']} {r['bits']}b" for r in pareto(rows)]
    print(f"\nPareto front: {', '.join(front)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
