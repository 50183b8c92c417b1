"""Print the markdown table of every registered model preset: parameters and FLOPs per jet.

FLOPs = 2 x MACs per jet, counted with ``torch.utils.flop_counter`` via ``tagformer.bench.flops`` (CPU
fused attention included; elementwise work such as softmax, norms and activations is not counted), on
synthetic jets in which all N slots are real particles, at N = 30, 64, 150, with 3 input features
(pT, Δη, Δφ) and 5 classes (hls4ml setting). Models run their default (eager) forward path.

Usage: ``python benchmarks/model_table.py [--features 3] [--classes 5] [--particles 30,64,150]``
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

import torch

from tagformer.bench.flops import flops_per_jet
from tagformer.data.batch import JetBatch
from tagformer.models import create_model, list_entries


def full_jets(batch: int, particles: int, features: int, seed: int = 0) -> JetBatch:
    """Jets with every slot real: pT-ordered particles around a random axis."""
    g = torch.Generator().manual_seed(seed)
    pt = torch.sort(torch.rand(batch, particles, generator=g) ** 3 * 300 + 1, dim=1, descending=True).values
    eta = torch.randn(batch, particles, generator=g) * 0.2
    phi = torch.randn(batch, particles, generator=g) * 0.2
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], -1)
    feats = torch.cat([torch.log(pt)[..., None], eta[..., None], phi[..., None],
                       torch.randn(batch, particles, max(features - 3, 0), generator=g)], -1)[..., :features]
    return JetBatch(features=feats, p4=p4, mask=torch.ones(batch, particles, dtype=torch.bool))


def fmt(x: float) -> str:
    return f"{x / 1e9:.2f} G" if x >= 1e9 else f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=3)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--particles", default="30,64,150")
    args = parser.parse_args()
    sizes = [int(n) for n in args.particles.split(",")]
    torch.manual_seed(0)
    head = "| model | preset | params | " + " | ".join(f"FLOPs/jet N={n}" for n in sizes) + " |"
    print(head)
    print("|" + "---|" * (3 + len(sizes)))
    for entry in list_entries():
        missing = [p for p in entry.capabilities.requires if importlib.util.find_spec(p) is None]
        for preset in entry.presets:
            if missing:
                print(f"| {entry.name} | {preset} | needs {', '.join(missing)} |" + " |" * len(sizes))
                continue
            cells, params = [], None
            for n in sizes:
                model = create_model(preset, num_classes=args.classes, in_features=args.features,
                                     num_particles=n)
                params = sum(p.numel() for p in model.parameters() if p.requires_grad)
                try:
                    cells.append(fmt(flops_per_jet(model, full_jets(2, n, args.features))))
                except Exception as exc:  # report and keep going: the table covers every model
                    print(f"{preset} at N={n}: {exc!r}", file=sys.stderr)
                    cells.append(f"failed ({type(exc).__name__})")
            print(f"| {entry.name} | {preset} | {params:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
