"""``tagformer evaluate``: the metrics of docs/metrics.md for a trained run, plus ROC and confusion plots."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained run (accuracy, AUC, background rejection, confusion matrix; mass regression)",
        description="Evaluate RUN's best checkpoint on a split of its dataset (default test, drawn as in "
        "training) or on every jet of --data (the model applies the normalisation fitted at training time "
        "itself). Writes RUN/metrics.json, RUN/roc.png, RUN/confusion.png. A run with regression tasks also "
        "gets, per regression head, the response (predicted/true) median and resolution per class and in bins "
        "of true mass and pT, the same for the reconstructed soft-drop mass (the baseline), and the background "
        "mass sculpting at eps_S = 0.5 (metrics.json 'regression'; RUN/pred_vs_true_<head>.png, "
        "response_<head>.png, resolution_vs_mass_<head>.png, sculpting_<head>.png). Runs trained before the "
        "encoder/heads split load too.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run directory written by `tagformer train`")
    p.add_argument("--data", help="evaluate on this file instead (all its jets)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split (default test)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.set_defaults(func=run)


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_regression(head: str, r: dict) -> list[str]:
    """Lines of one regression head's report: class-averaged response and resolution, per class, sculpting."""
    s = r["summary"]
    lines = [f"  regression {head!r} ({r['target']}): MAE {_num(r['mae'], 2)} GeV; class-averaged median response "
             f"{_num(s['response'])}, resolution {_num(s['resolution'])}"
             + (f" (soft drop: {_num(s['sd_response'])}, {_num(s['sd_resolution'])})" if r.get("baseline") else "")]
    base = (r.get("baseline") or {}).get("per_class") or {}
    for name, st in r["regressed"]["per_class"].items():
        sd = base.get(name)
        lines.append(f"    {name}: response {_num(st['median'])}, resolution {_num(st['resolution'])}"
                     + (f" (soft drop {_num(sd['median'])}, {_num(sd['resolution'])})" if sd else ""))
    for signal, e in ((r.get("sculpting") or {}).get("by_signal") or {}).items():
        jsd = ", ".join(f"{k} {_num(v['jsd'])}" for k, v in e["masses"].items())
        lines.append(f"    sculpting of {'+'.join(e['background'])} after the {signal} cut at eps_S "
                     f"{r['sculpting']['efficiency']:g} (eps_B {e['eps_B']:.3f}): JSD {jsd}")
    return lines


def format_metrics(m: dict) -> str:
    """A few human-readable lines of a metrics dict."""
    if m.get("accuracy") is None:  # a regression-only run
        lines = [f"{m.get('model')} ({m.get('preset')}) on {m['num_jets']} {m.get('split')} jets:"]
    else:
        lines = [f"{m.get('model')} ({m.get('preset')}) on {m['num_jets']} {m.get('split')} jets: "
                 f"accuracy {m['accuracy']:.4f}, macro AUC {m['auc_macro'] or float('nan'):.4f}"]
    for signal, by_eff in (m.get("rejection") or {}).items():
        bkg = "+".join(m["rejection_background"][signal])
        vals = ", ".join(f"R@{e}={v:.1f}" if v is not None else f"R@{e}=n/a" for e, v in by_eff.items())
        lines.append(f"  {signal} vs {bkg}: AUC {m['auc'].get(signal) or float('nan'):.4f}; {vals}")
    for eff, v in (m.get("rejection_average") or {}).items():
        over = "+".join(m["rejection_average_over"])
        lines.append(f"  average R@{eff} over {over}: {v:.1f}" if v is not None else f"  average R@{eff}: n/a")
    for head, report in (m.get("regression") or {}).items():
        lines += format_regression(head, report)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.rundir import RunDir

    metrics = evaluate_run(args.run_dir, data=args.data, split=args.split, plots=not args.no_plots,
                           device=args.device)
    print(format_metrics(metrics))
    print(f"wrote {RunDir(args.run_dir).metrics}")
    return 0
