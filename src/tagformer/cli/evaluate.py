"""``tagformer evaluate``: the metrics of docs/metrics.md for a trained run, plus ROC and confusion plots."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained run (accuracy, AUC, background rejection, confusion matrix)",
        description="Evaluate RUN's best checkpoint on a split of its dataset (default test, drawn as in "
        "training) or on every jet of --data (the model applies the normalisation fitted at training time "
        "itself). Writes RUN/metrics.json, RUN/roc.png, RUN/confusion.png. Runs trained before the "
        "encoder/heads split load too.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run directory written by `tagformer train`")
    p.add_argument("--data", help="evaluate on this file instead (all its jets)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split (default test)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.set_defaults(func=run)


def format_metrics(m: dict) -> str:
    """A few human-readable lines of a metrics dict."""
    lines = [f"{m.get('model')} ({m.get('preset')}) on {m['num_jets']} {m.get('split')} jets: "
             f"accuracy {m['accuracy']:.4f}, macro AUC {m['auc_macro'] or float('nan'):.4f}"]
    for signal, by_eff in m["rejection"].items():
        bkg = "+".join(m["rejection_background"][signal])
        vals = ", ".join(f"R@{e}={v:.1f}" if v is not None else f"R@{e}=n/a" for e, v in by_eff.items())
        lines.append(f"  {signal} vs {bkg}: AUC {m['auc'].get(signal) or float('nan'):.4f}; {vals}")
    for eff, v in (m.get("rejection_average") or {}).items():
        over = "+".join(m["rejection_average_over"])
        lines.append(f"  average R@{eff} over {over}: {v:.1f}" if v is not None else f"  average R@{eff}: n/a")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.rundir import RunDir

    metrics = evaluate_run(args.run_dir, data=args.data, split=args.split, plots=not args.no_plots,
                           device=args.device)
    print(format_metrics(metrics))
    print(f"wrote {RunDir(args.run_dir).metrics}")
    return 0
