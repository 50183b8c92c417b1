"""Draw docs/figures/architecture.png: the layers of tagformer and the path of one batch.

Run: .venv/bin/python docs/figures/make_architecture.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FLOW = [  # (label, detail, colour) from the file to the loss
    ("data/", "formats, features, orderings,\nNormaliser fit, JetDataModule", "#cfe2f3"),
    ("JetBatch", "features (raw), p4, mask\n(True = real), labels, targets", "#d9ead3"),
    ("Tagger.input_norm", "InputNorm: (x - mean) / std\nbuffers saved with the weights", "#fff2cc"),
    ("encoder.encode", "tokens (B, N, D)\npadded slots zero", "#fce5cd"),
    ("encoder.pool", "embedding (B, J)\nlearned pooling lives here", "#fce5cd"),
    ("heads", "classification, regression, ...\none nn.Module per head", "#f4cccc"),
    ("tasks/", "target, head, loss, metrics\n(no model knows a loss)", "#ead1dc"),
    ("train/", "LightningModule loops over tasks,\ncallbacks, run directory", "#d9d2e9"),
]
BESIDE = [
    ("eval/", "metrics, compare, plots,\nexplain (attention probes)"),
    ("bench/", "params, FLOPs (one convention),\nlatency, memory, scaling"),
    ("export/", "ONNX (InputNorm in the graph),\nint8, parity"),
    ("rundir.py + config.py", "run layout, atomic writes,\nload_run, typed configs"),
]


def box(ax, x, y, w, h, title, detail, colour):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=colour, ec="#444", lw=1))
    ax.text(x + w / 2, y + h * 0.68, title, ha="center", va="center", fontsize=11, weight="bold", family="monospace")
    ax.text(x + w / 2, y + h * 0.3, detail, ha="center", va="center", fontsize=8.5)


def main() -> None:
    fig, ax = plt.subplots(figsize=(11, 8.5))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 8.8)
    ax.axis("off")
    w, h, x0 = 3.4, 0.8, 0.4
    ys = [7.7 - i * 1.0 for i in range(len(FLOW))]
    for (title, detail, colour), y in zip(FLOW, ys):
        box(ax, x0, y, w, h, title, detail, colour)
    for y1, y2 in zip(ys, ys[1:]):
        ax.add_patch(FancyArrowPatch((x0 + w / 2, y1), (x0 + w / 2, y2 + h), arrowstyle="-|>", mutation_scale=14))
    ax.add_patch(FancyBboxPatch((x0 - 0.15, ys[5] - 0.12), w + 0.3, ys[2] + h - ys[5] + 0.24,
                                boxstyle="round,pad=0.02", fc="none", ec="#b45f06", lw=1.6, ls="--"))
    ax.text(x0 + w + 0.25, ys[3] - 0.1, "models/\nTagger = InputNorm\n+ Encoder + heads\n(registry: presets,\ncapabilities)",
            fontsize=9, color="#b45f06", va="center")
    bx = 6.9
    for i, (title, detail) in enumerate(BESIDE):
        box(ax, bx, 7.5 - i * 1.25, 3.6, 0.95, title, detail, "#eeeeee")
    ax.text(bx + 1.8, 2.2, "cli/  (one thin module per command)\nabove everything; calls the library",
            ha="center", fontsize=9, style="italic")
    ax.text(bx + 1.8, 1.4, "imports point downwards only:\ncli -> train/eval/bench/export\n-> rundir/config -> models -> data",
            ha="center", fontsize=9)
    ax.set_title("tagformer: the path of one batch (left) and the layers beside it (right)", fontsize=12)
    out = Path(__file__).with_name("architecture.png")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
