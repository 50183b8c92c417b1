"""Tables of the mass-regression study (docs/results.md): per class, median response and resolution of the
regressed mass (mean ± std over seeds) for each encoder and task set, against the reco soft-drop mass, plus
the classification accuracy of classification-only and multi-task runs.

    .venv/bin/python benchmarks/regression_table.py runs/regression
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

CLASSES = ("w", "z", "t", "q", "g")


def _ms(values: list[float]) -> str:
    v = np.asarray([x for x in values if x is not None], float)
    if not len(v):
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path)
    args = p.parse_args()
    reg: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    seeds: dict[tuple[str, str], int] = defaultdict(int)
    for metrics_path in sorted(args.runs.glob("*/metrics.json")):
        match = re.match(r"(.+)-(cls|reg|mt)-seed(\d+)$", metrics_path.parent.name)
        if not match:
            continue
        model, tasks = match.group(1), match.group(2)
        m = json.loads(metrics_path.read_text())
        seeds[model, tasks] += 1
        if "accuracy" in m:
            acc[model, tasks].append(m["accuracy"])
        r = (m.get("regression") or {}).get("regression")
        if not r:
            continue
        for c in CLASSES:
            for what, key in (("regressed", "regressed"), ("baseline", "sd")):
                s = r[what]["per_class"].get(c) or {}
                reg[model, tasks][f"{key}_res_{c}"].append(s.get("resolution"))
                reg[model, tasks][f"{key}_med_{c}"].append(s.get("median"))
    print("Resolution (half the 16-84 % range of predicted/true over its median) per class; mean ± std over seeds\n")
    print("| encoder | tasks | seeds | " + " | ".join(CLASSES) + " |")
    print("|---|---|---|" + "---|" * len(CLASSES))
    sd_row = None
    for (model, tasks), vals in sorted(reg.items()):
        print(f"| {model} | {tasks} | {seeds[model, tasks]} | "
              + " | ".join(_ms(vals[f"regressed_res_{c}"]) for c in CLASSES)
              + " |")
        sd_row = sd_row or vals  # every run is evaluated on the same test split: one soft-drop value
    if sd_row:
        print("| reco soft drop | - | - | " + " | ".join(_ms(sd_row[f"sd_res_{c}"][:1]) for c in CLASSES) + " |")
    print("\nMedian response (predicted/true) per class\n")
    print("| encoder | tasks | " + " | ".join(CLASSES) + " |")
    print("|---|---|" + "---|" * len(CLASSES))
    for (model, tasks), vals in sorted(reg.items()):
        print(f"| {model} | {tasks} | " + " | ".join(_ms(vals[f"regressed_med_{c}"]) for c in CLASSES) + " |")
    if sd_row:
        print("| reco soft drop | - | " + " | ".join(_ms(sd_row[f"sd_med_{c}"][:1]) for c in CLASSES) + " |")
    print("\nClassification accuracy (test split), classification only vs multi-task\n")
    print("| encoder | classification only | classification + regression |")
    print("|---|---|---|")
    for model in sorted({m for m, _ in acc}):
        print(f"| {model} | {_ms(acc[model, 'cls'])} | {_ms(acc[model, 'mt'])} |")


if __name__ == "__main__":
    main()
