"""Redraw the Pareto plots of docs/results.md from its tables, with FLOPs under today's one convention.

The accuracy, AUC and rejection columns are the measured numbers already in the tables (the run
directories behind them are not committed); parameters and FLOPs per jet are recomputed from the models
with ``tagformer.bench.flops.count_params`` / ``model_flops_per_jet`` (all N slots real, 3 input
features, 5 classes), so the plots show the same cost figures as ``tagformer profile`` and ``compare``.

    python benchmarks/redraw_results_plots.py                 # prints the recomputed costs, redraws
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tagformer.bench.flops import count_params, model_flops_per_jet
from tagformer.eval.compare import write_plots
from tagformer.models import create_model

DOC = Path(__file__).resolve().parents[1] / "docs" / "results.md"
#: (heading that starts the section, figure folder) of the tables to redraw
TABLES = (("## Main table", "docs/figures/results_full20k"), ("## Longer training", "docs/figures/results_long20k"))


def _value(cell: str) -> tuple[float, float]:
    """'**0.571 ± 0.004**' -> (0.571, 0.004); '0.653' -> (0.653, 0.0)."""
    numbers = re.findall(r"[-+]?\d*\.?\d+", cell.replace("**", "").replace(",", ""))
    return float(numbers[0]), float(numbers[1]) if len(numbers) > 1 else 0.0


def table_rows(section: str, particles: int) -> list[dict]:
    """Rows of the first markdown table of ``section`` with costs recomputed."""
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
        preset = cells["model"].split()[0]
        model = create_model(preset, num_classes=5, in_features=3, num_particles=particles)
        acc, acc_std = _value(cells["accuracy"])
        rej, rej_std = _value(cells["R0.8_avg"])
        rows.append({"name": preset, "params": count_params(model),
                     "flops_per_jet": model_flops_per_jet(model, in_features=3, num_particles=particles),
                     "accuracy": acc, "accuracy_std": acc_std, "rejection": rej, "rejection_std": rej_std,
                     "rejection_label": "R0.8_avg"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--particles", type=int, default=64)
    args = parser.parse_args()
    text = DOC.read_text()
    root = DOC.parents[1]
    for heading, folder in TABLES:
        start = text.index(heading)
        end = text.find("\n## ", start + 1)
        rows = table_rows(text[start:end if end > 0 else None], args.particles)
        print(f"{heading.strip('# ')}:")
        for r in rows:
            print(f"  {r['name']:22s} params {r['params']:6d}  FLOPs/jet {r['flops_per_jet'] / 1e6:.3f}M")
        for path in write_plots(rows, root / folder):
            print(f"  wrote {path.relative_to(root)}")


if __name__ == "__main__":
    main()
