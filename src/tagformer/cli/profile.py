"""``tagformer profile``: parameters, FLOPs, latency, throughput, memory of zoo models (CSV + markdown)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tagformer.errors import ConfigError


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """``"16,32,64"`` -> ``(16, 32, 64)``; raises :class:`ConfigError` naming ``what`` on bad input."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise ConfigError(f"{what} must be comma-separated positive integers, got {text!r}") from None
        if value < 1:
            raise ConfigError(f"{what} must be positive integers, got {value} in {text!r}")
        values.append(value)
    return tuple(values)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile",
        help="measure params, FLOPs, latency, throughput and memory of zoo models",
        description="Profile every model/preset matching PATTERN at each particle count and batch size. "
        "Latency is per call of one batch (batch 1 = per jet), median and p99 after warm-up; "
        "FLOPs = 2 x MACs per jet (torch.utils.flop_counter, every particle slot real: the figure training "
        "summaries and `tagformer compare` report); flops_fraction = achieved FLOP/s over a "
        "dense fp32/bf16 matmul measured in the same run at the same thread count.",
    )
    p.add_argument("--models", required=True, metavar="PATTERN",
                   help="comma-separated shell-style model or preset names, e.g. 'phat*,salt'")
    p.add_argument("--particles", default="16,32,64,150", help="particle counts (default 16,32,64,150)")
    p.add_argument("--batch", default="1,1024", help="batch sizes (default 1,1024)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--compile", action="store_true", help="wrap models in torch.compile")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16 runs under autocast")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--features", type=int, default=3, help="input features per particle (default 3)")
    p.add_argument("--classes", type=int, default=5, help="output classes (default 5)")
    p.add_argument("--repeats", type=int, default=50, help="timed calls at most (default 50)")
    p.add_argument("--budget", type=float, default=2.0, help="seconds of timed calls per row (default 2)")
    p.add_argument("--memory", default="auto", choices=["auto", "subprocess", "inprocess", "off"],
                   help="CPU peak-memory method (auto = RSS delta in a fresh subprocess)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a constructor argument of every matched model (YAML value), repeatable")
    p.add_argument("--out", default=None, help="directory for profile.csv and profile.md (existing ones are "
                   "replaced only if an earlier profile wrote them, or with --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace profile.csv / profile.md in --out even if tagformer profile did not write them")
    p.set_defaults(func=run)


#: First line of every profile.md written (how a later profile recognises its own output).
MARKDOWN_MARK = "<!-- written by tagformer profile -->"


def _own_markdown(path: Path) -> bool:
    from tagformer.atomic import first_line

    return first_line(path).strip() == MARKDOWN_MARK


def _own_csv(path: Path) -> bool:
    from tagformer.atomic import first_line
    from tagformer.bench.profile import PROFILE_COLUMNS

    return first_line(path).strip() == ",".join(PROFILE_COLUMNS)


def check_out(out: Path, overwrite: bool) -> None:
    """Before any measurement: ``out`` is (or can become) a writable directory whose profile files, if any,
    an earlier profile wrote (or ``overwrite``)."""
    from tagformer.atomic import check_output_dir, check_replaceable

    check_output_dir(out, "--out directory")
    check_replaceable(out / "profile.csv", _own_csv, overwrite=overwrite, what="profile CSV")
    check_replaceable(out / "profile.md", _own_markdown, overwrite=overwrite, what="profile markdown")


def run(args: argparse.Namespace) -> int:
    from tagformer.atomic import atomic_write_text
    from tagformer.bench.config import ProfileConfig
    from tagformer.bench.machine import machine_description
    from tagformer.bench.profile import profile_models, to_markdown, write_csv
    from tagformer.bench.targets import resolve_targets
    from tagformer.cli._overrides import parse_set

    config = ProfileConfig(
        particles=parse_int_list(args.particles, "--particles"),
        batches=parse_int_list(args.batch, "--batch"),
        device=args.device,
        dtype=args.dtype,
        compile=args.compile,
        threads=args.threads,
        in_features=args.features,
        num_classes=args.classes,
        repeats=args.repeats,
        budget_s=args.budget,
        memory=args.memory,
    ).check()
    overrides = parse_set(args.set)
    resolve_targets(args.models)  # fail on an unknown pattern before any measurement
    if args.out:
        check_out(Path(args.out), args.overwrite)

    def show(row: dict) -> None:
        print(f"{row['preset']:>20s} N={row['particles']:<4d} batch={row['batch']:<5d} "
              f"{row['flops_per_jet'] / 1e6:8.3f} MFLOPs/jet  p50 {row['latency_ms_p50']:9.3f} ms  "
              f"{row['throughput_jets_s']:12,.0f} jets/s  {100 * row['flops_fraction']:5.1f}% matmul", flush=True)

    rows = profile_models(args.models, config, progress=show, overrides=overrides)
    title = (f"{machine_description()}; device {config.device}, threads {rows[0]['threads']}, "
             f"dtype {config.dtype}, compile {'on' if config.compile else 'off'}, "
             f"matmul {rows[0]['matmul_gflops']:.1f} GFLOP/s") if rows else None
    table = to_markdown(rows, title)
    print(table)
    if args.out:
        out = Path(args.out)
        write_csv(rows, out / "profile.csv")
        atomic_write_text(out / "profile.md", f"{MARKDOWN_MARK}\n{table}")
        print(f"wrote {out / 'profile.csv'} and {out / 'profile.md'}")
    return 0
