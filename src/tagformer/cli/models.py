"""``tagformer models``: list the zoo (models, presets, parameter counts, capabilities) or show one preset."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list models, presets, parameter counts and capabilities",
        description="List every registered model preset with its trainable parameter count (at the given "
        "input features, classes and particle count) and declared capabilities; or, with --show, the "
        "constructor arguments of one model/preset after --set overrides.",
    )
    p.add_argument("--pattern", default="*", help="shell-style model or preset name filter (default '*')")
    p.add_argument("--features", type=int, default=3, help="input features per particle (default 3)")
    p.add_argument("--classes", type=int, default=5, help="output classes (default 5)")
    p.add_argument("--particles", type=int, default=150, help="particle slots N (default 150)")
    p.add_argument("--show", metavar="NAME", help="print the arguments of this model or preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a constructor argument of --show (YAML value, numbers as in `tagformer train`), "
                   "repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if args.show:
        from tagformer.bench.flops import count_params
        from tagformer.cli._overrides import parse_set
        from tagformer.models.registry import create_model, get_entry, model_kwargs

        overrides = parse_set(args.set)
        kwargs = model_kwargs(args.show, **overrides)
        entry = get_entry(args.show)
        model = create_model(args.show, num_classes=args.classes, in_features=args.features,
                             num_particles=args.particles, **overrides)
        params = count_params(model)
        console.print(f"{entry.name} ({entry.paper}): {entry.description}")
        for key, value in kwargs.items():
            console.print(f"  {key} = {value!r}")
        console.print(f"  parameters: {params:,} (in_features={args.features}, num_classes={args.classes}, "
                      f"N={args.particles})")
        return 0

    from tagformer.bench.catalog import catalog

    rows = catalog(args.pattern, args.features, args.classes, args.particles)
    table = Table(title=f"tagformer models (params at {args.features} features, {args.classes} classes, "
                  f"N = {args.particles})")
    for col in ("model", "preset", "params", "capabilities", "paper"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for r in rows:
        table.add_row(r.model, r.preset, f"{r.params:,}" if r.params is not None else r.note,
                      r.capabilities, r.paper)
    console.print(table)
    return 0
