"""``tagformer explain``: what a trained run looks at (attention maps, sparsity, attributions, faithfulness)."""

from __future__ import annotations

import argparse

from tagformer.errors import TagformerError


class NoAttentionError(TagformerError):
    """The run's model has no attention layers (the rest of the report was still written)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain",
        help="explain a trained run: attention maps, sparsity, attributions, faithfulness",
        description="Explain RUN's best checkpoint on the first N jets of its test split (or of --data): "
        "attention maps of every attention layer and head (example jets, class averages, links on the "
        "(deta, dphi) plane coloured by C/A subjet), sparsity against uniform attention, integrated-gradients "
        "attributions per particle and feature, and the accuracy drop when the most-attributed, most-attended "
        "or random particles are removed. Writes report.md, PNGs and explain.json to --out (default "
        "RUN/explain). A model without attention still gets attributions, but the command exits non-zero.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run directory written by `tagformer train`")
    p.add_argument("--data", help="explain on the first jets of this file instead of the run's test split")
    p.add_argument("--jets", type=int, default=1000, help="number of jets (default 1000)")
    p.add_argument("--out", help="output directory (default RUN/explain)")
    p.add_argument("--examples", type=int, default=1, help="example jets drawn per class (default 1)")
    p.add_argument("--ig-steps", type=int, default=32, help="integrated-gradients steps (default 32)")
    p.add_argument("--subjets", type=int, default=3, help="C/A exclusive subjets per jet (default 3)")
    p.add_argument("--no-subjets", action="store_true", help="skip the subjets (no FastJet needed)")
    p.add_argument("--batch-size", type=int, default=128, help="jets per forward pass (default 128)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-removal baseline (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tagformer.eval.explain import explain_run

    for flag, value in (("--jets", args.jets), ("--ig-steps", args.ig_steps), ("--batch-size", args.batch_size)):
        if value < 1:
            raise TagformerError(f"{flag} must be at least 1, got {value}")
    if args.examples < 0 or args.subjets < 0:
        raise TagformerError("--examples and --subjets must not be negative")
    out = Path(args.out) if args.out else Path(args.run_dir) / "explain"
    result = explain_run(args.run_dir, data=args.data, jets=args.jets, out=out, examples=args.examples,
                         ig_steps=args.ig_steps, subjets=0 if args.no_subjets else args.subjets,
                         batch_size=args.batch_size, device=args.device, seed=args.seed)
    faith = result["faithfulness"]
    print(f"{result['preset'] or result['model']}: accuracy {result['accuracy']:.3f} on {result['jets']} jets; "
          f"removing the most-attributed particle: {faith['curves']['attribution'][0]:.3f}, a random one: "
          f"{faith['curves']['random'][0]:.3f}")
    print(f"wrote {out / 'report.md'}")
    if result["attention"] is None:
        raise NoAttentionError(f"{result['preset'] or result['model']}: no attention maps "
                               f"({result['attention_missing']}); attributions and faithfulness were still "
                               f"written to {out}")
    return 0
