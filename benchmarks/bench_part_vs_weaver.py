"""tagformer ``part`` against weaver-core's ``ParticleTransformer``, side by side in one run.

Same configuration (paper ParT: embed 128/512/128, pair 64/64/64, 8 heads, 8+2 blocks, 16 inputs,
10 classes), same inputs, same weights: weaver's randomly initialised state dict is copied into
tagformer's model, so the logits must agree (checked and printed) before any timing. Inference only
(eval mode, ``torch.inference_mode``; tagformer's model through
:func:`tagformer.models.inference.prepare_for_inference`), float32, CPU, threads as given. Each scenario
times both models alternately ``--repeats`` times after warm-up and reports medians; the throughput
ratio is printed last.

Scenarios: ``full`` (every one of the N slots is a real particle) and ``jetclass`` (multiplicities drawn
uniformly in [20, N], like JetClass jets padded to N = 128).

Usage: ``python benchmarks/bench_part_vs_weaver.py [--batch 256] [--particles 128] [--threads 2]``
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time

import torch

from tagformer.data.batch import JetBatch
from tagformer.models import create_model
from tagformer.models.inference import prepare_for_inference
from tagformer.models.weaver_compat import weaver_to_tagformer


def make_jets(batch: int, particles: int, features: int, min_real: int, seed: int) -> JetBatch:
    """Jets around random axes with pT-ordered particles; padded slots zeroed (as weaver's loader does)."""
    g = torch.Generator().manual_seed(seed)
    n_real = torch.randint(min_real, particles + 1, (batch,), generator=g)
    mask = torch.arange(particles)[None, :] < n_real[:, None]
    pt = torch.sort(torch.rand(batch, particles, generator=g) ** 3 * 300 + 0.5, dim=1, descending=True).values
    eta = torch.rand(batch, 1, generator=g) * 4 - 2 + torch.randn(batch, particles, generator=g) * 0.2
    phi = (torch.rand(batch, 1, generator=g) * 2 - 1) * torch.pi + torch.randn(batch, particles, generator=g) * 0.2
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], -1)
    feats = torch.randn(batch, particles, features, generator=g)
    keep = mask[..., None]
    return JetBatch(features=feats * keep, p4=p4 * keep, mask=mask)


def time_call(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--particles", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=["full", "jetclass"], choices=["full", "jetclass"])
    args = parser.parse_args()
    logging.getLogger("weaver").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    weaver = ParticleTransformer(input_dim=16, num_classes=10).eval()
    ours = create_model("part", num_classes=10, in_features=16).eval()
    missing = ours.load_state_dict(weaver_to_tagformer(weaver.state_dict()), strict=True)
    n_w = sum(p.numel() for p in weaver.parameters())
    n_t = sum(p.numel() for p in ours.parameters())
    ours = prepare_for_inference(ours)  # fused kernels, folded BatchNorms and head scales (same function)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, float32, eager, inference_mode; batch {args.batch}, "
          f"N {args.particles}; GPU: not used")
    print(f"parameters: weaver {n_w:,}  tagformer {n_t:,}  ({100 * (n_t - n_w) / n_w:+.2f} %) {missing}")
    assert abs(n_t - n_w) <= 0.01 * n_w, "parameter counts differ by more than 1 %"

    ratios = {}
    for scenario in args.scenarios:
        min_real = args.particles if scenario == "full" else 20
        jets = make_jets(args.batch, args.particles, 16, min_real, seed=1)
        x, v = jets.features.transpose(1, 2).contiguous(), jets.p4.transpose(1, 2).contiguous()
        m = jets.mask[:, None, :].float()
        with torch.inference_mode():
            for _ in range(6):  # weaver's sequence trimmer switches on after 5 calls
                weaver(x[:16], v[:16], m[:16])
            ours(jets.select(slice(0, 16)))
            diff = (weaver(x, v, m) - ours(jets)).abs().max().item()
            t_w, t_t = [], []
            for r in range(args.repeats):
                t_w.append(time_call(weaver, x, v, m))
                t_t.append(time_call(ours, jets))
                print(f"  {scenario} repeat {r}: weaver {t_w[-1]:.2f} s, tagformer {t_t[-1]:.2f} s", flush=True)
        jw, jt = args.batch / statistics.median(t_w), args.batch / statistics.median(t_t)
        ratios[scenario] = jt / jw
        print(f"{scenario:9s} mean real {jets.mask.sum(1).float().mean():6.1f}  max|logit diff| {diff:.2e}  "
              f"weaver {jw:7.1f} jets/s  tagformer {jt:7.1f} jets/s  (median of {args.repeats})")
    print("throughput ratio tagformer/weaver: "
          + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
