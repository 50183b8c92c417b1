"""``tagformer generate``: labelled jets from Pythia 8 + FastJet in the hls4ml layout."""

from __future__ import annotations

import argparse
import shlex

from tagformer.errors import ConfigError

_DEFAULTS_NOTE = ("Defaults: 13 TeV, pT-hat 1000-1200 GeV, anti-kT R=0.8, jet pT > 800 GeV, |eta| < 2, "
                  "150 constituents, parametric detector.")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate labelled jets (Pythia 8 + FastJet, hls4ml layout)",
                              description=f"Generate a labelled jet dataset. {_DEFAULTS_NOTE} Rerunning the "
                              "same command resumes an interrupted run (Ctrl-C, a killed process, a full disk): "
                              "finished shards are kept.")
    p.add_argument("output", help="HDF5 file to write (shards go to OUTPUT.parts/ meanwhile)")
    p.add_argument("--classes", default="g,q,w,z,t", help="comma-separated classes from g,q,w,z,t")
    p.add_argument("--jets-per-class", type=int, default=1000, help="jets per class (balanced)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pthat-min", type=float, default=1000.0, help="PhaseSpace:pTHatMin in GeV")
    p.add_argument("--pthat-max", type=float, default=1200.0, help="PhaseSpace:pTHatMax in GeV")
    p.add_argument("--jet-algorithm", choices=("antikt", "kt", "cambridge"), default="antikt")
    p.add_argument("--jet-r", type=float, default=0.8, help="jet radius R")
    p.add_argument("--jet-pt-min", type=float, default=800.0, help="minimum jet pT in GeV")
    p.add_argument("--eta-max", type=float, default=2.0, help="maximum jet |eta|")
    p.add_argument("--constituents", type=int, default=150, help="constituents stored per jet")
    p.add_argument("--detector", choices=("parametric", "none"), default="parametric")
    p.add_argument("--ecal-cell", type=float, default=0.0174, help="ECAL cell size in eta and phi")
    p.add_argument("--hcal-cell", type=float, default=0.087, help="HCAL cell size in eta and phi")
    p.add_argument("--shard-size", type=int, default=1000, help="jets per shard (fixes the decomposition)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (0 = all cores)")
    p.add_argument("--shard", default=None, metavar="I/N", help="generate only slice I of N (then `merge`)")
    p.add_argument("--no-shuffle", action="store_true", help="keep the class-ordered jet order")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output and regenerate this run's shards (with --shard: only the "
                   "shards of that slice; other slices' shards are never deleted)")
    p.add_argument("--keep-parts", action="store_true", help="keep the shards after merging")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def parse_part(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → ``(i, n)``; raises ConfigError on anything else."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r} must look like I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text} is invalid: need 0 <= I < N")
    return i, n


def command_line(args: argparse.Namespace) -> str:
    """The full ``tagformer generate`` command equivalent to ``args`` (every option spelled out)."""
    words = ["tagformer", "generate", str(args.output)]
    for key, value in sorted(vars(args).items()):
        if key in ("output", "func", "command", "debug", "interrupt_hint") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from tagformer.data.generate import generate, make_config

    config = make_config(
        output=args.output, classes=args.classes, jets_per_class=args.jets_per_class, seed=args.seed,
        pthat_min=args.pthat_min, pthat_max=args.pthat_max, jet_algorithm=args.jet_algorithm, jet_r=args.jet_r,
        jet_pt_min=args.jet_pt_min, eta_max=args.eta_max, n_constituents=args.constituents,
        detector=args.detector, ecal_cell=args.ecal_cell, hcal_cell=args.hcal_cell, shard_size=args.shard_size,
        workers=args.workers, shuffle=not args.no_shuffle, overwrite=args.overwrite, keep_parts=args.keep_parts,
        command=command_line(args),
    )
    part = parse_part(args.shard)
    path = generate(config, part=part, show_progress=not args.no_progress)
    if part is None:
        print(f"wrote {len(config.classes) * config.jets_per_class} jets to {path}")
    else:
        print(f"shard slice {part[0]}/{part[1]} done in {path}; run `tagformer merge {config.output}` when all are")
    return 0
