"""Helpers for FPGA tests: small hardware variants, random and real-like jets, a tiny run directory."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from tagformer.export.fpga.ops import QuantPlan, TorchOps, calibrated_plan
from tagformer.export.fpga.variants import hardware_variant
from tagformer.models.registry import create_model
from tagformer.models.tagger import Tagger

F = 4


def small_tagger(name: str, **overrides: object) -> Tagger:
    torch.manual_seed(0)
    return create_model(name, num_classes=5, in_features=F, **overrides).eval()


def random_jets(n_jets: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised-looking features (B, N, F) float64 and a 0/1 mask with at least one real particle."""
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(n_jets, n, generator=g) < 0.7
    m[:, 0] = True
    x = torch.randn(n_jets, n, F, generator=g, dtype=torch.float64) * 1.5
    return x * m[..., None], m.double()


def reallike_jets(n_jets: int, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """pT-ordered jets with a variable multiplicity: log pT, eta, phi, dR standardised roughly like data."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, n + 1, (n_jets,), generator=g)
    m = torch.arange(n)[None, :] < counts[:, None]
    pt = torch.sort(torch.empty(n_jets, n, dtype=torch.float64).exponential_(1 / 30.0, generator=g) + 1,
                    dim=1, descending=True).values
    eta = torch.randn(n_jets, n, generator=g, dtype=torch.float64) * 0.1
    phi = torch.randn(n_jets, n, generator=g, dtype=torch.float64) * 0.1
    x = torch.stack([(pt.log() - 3) / 1.2, eta / 0.1, phi / 0.1, (eta**2 + phi**2).sqrt() / 0.1 - 1], -1)
    return x * m[..., None], m.double()


def variant_and_plan(tagger: Tagger, name: str, n: int, bits: int) -> tuple[torch.nn.Module, QuantPlan]:
    hw = hardware_variant(tagger, name)
    x, m = random_jets(256, n, seed=9)
    ops = TorchOps(record={})
    with torch.no_grad():
        hw(x, m, ops)
    return hw, calibrated_plan(bits, ops.record or {}, ops.signs, hw.luts(bits, n))


def build_run(run_dir: Path, data: Path, model: str, overrides: list[str], particles: int = 8,
              weights: bool = True) -> Path:
    """A run directory (untrained weights) as ``tagformer train`` writes it."""
    from tagformer.config import build_config, save_config
    from tagformer.data.datamodule import JetDataModule

    cfg = build_config(model=model, data=str(data),
                       overrides=[f"data.num_particles={particles}", "data.batch_size=32", *overrides])
    (run_dir / "checkpoints").mkdir(parents=True)
    save_config(cfg, run_dir / "config.yaml")
    dm = JetDataModule(cfg.data)
    dm.setup("fit")
    info = dm.info
    (run_dir / "dataset.json").write_text(json.dumps(asdict(info)))
    norm = dm.normaliser_state()
    (run_dir / "normaliser.json").write_text(json.dumps(norm))
    if weights:
        torch.manual_seed(0)
        net = create_model(model, num_classes=info.num_classes, in_features=info.in_features,
                           num_particles=info.num_particles, **cfg.model.overrides)
        net.input_norm.set_stats(norm["mean"], norm["std"])
        torch.save({"state_dict": net.state_dict(), "meta": {"epoch": 0}}, run_dir / "checkpoints" / "best.pt")
    return run_dir
