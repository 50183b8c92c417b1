"""Eager inference speed before and after the encoder/heads refactor, side by side in one run.

Cases (float32, CPU, eval mode, ``torch.inference_mode``, the same threads everywhere):

- ``part``: the paper ParT (``part`` preset: embed 128/512/128, pair 64/64/64, 8 heads, 8+2 blocks,
  16 inputs, 10 classes) at N = 128, batch 256, against weaver-core's ``ParticleTransformer`` with the
  same (weaver's random) weights;
- ``phat``: ``phat_small`` (3 inputs, 5 classes) at N = 64, batch 1024, same seed before and after.

"before" is the code at ``--before-commit`` (default 2ae58e1, the last commit before the refactor),
checked out as a git worktree (``git worktree add --detach /tmp/tagformer_before 2ae58e1``, created
if missing) and imported in its own subprocess with ``PYTHONPATH`` pointing to its ``src``; "after" is
this checkout in another subprocess, run through ``tagformer.models.inference.prepare_for_inference``
(``--plain`` also times the after model in eval mode without it). The subprocesses never run at the
same time: the parent sends one timing request at a time, alternating the cases within every repeat
(order rotated per repeat). Each sample is the mean over a fixed number of calls (chosen at warm-up so
that a sample lasts at least ``--min-time`` seconds); medians over ``--repeats`` samples are reported.
Logits of the cases are compared before any timing. Scenarios: ``padded`` (multiplicities uniform in
[20, N], like JetClass jets padded to N) and ``full`` (every slot real). The ratios are printed last.

    python benchmarks/bench_refactor_speed.py --threads 2 --repeats 7
    python benchmarks/bench_refactor_speed.py --repeats 1 --part-batch 4 --phat-batch 16 --min-time 0  # smoke test
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
MODELS = ("part", "phat")
#: model -> (features, classes)
SHAPES = {"part": (16, 10), "phat": (3, 5)}


# ---------------------------------------------------------------------------------------------- worker


def make_jets(batch: int, particles: int, features: int, min_real: int, seed: int) -> Any:
    """pT-ordered jets around random axes, real particles first, padded slots zeroed: the same jets as
    benchmarks/bench_part_vs_weaver.py's, written out again here because the "before" worker runs against
    the pre-refactor tree and must not import today's code or that script (it needs today's modules)."""
    from tagformer.data.batch import JetBatch

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


class Worker:
    """Builds the models of one side (``before`` or ``after``) and times them on request."""

    def __init__(self, side: str, args: argparse.Namespace) -> None:
        torch.set_num_threads(args.threads)
        logging.getLogger("weaver").setLevel(logging.WARNING)
        from tagformer.models import create_model

        self.side, self.args = side, args
        self.fns: dict[str, Any] = {}
        self.inputs: dict[tuple[str, str], Any] = {}
        self.weaver_inputs: dict[str, tuple[torch.Tensor, ...]] = {}
        torch.manual_seed(0)
        from weaver.nn.model.ParticleTransformer import ParticleTransformer

        from tagformer.models.weaver_compat import weaver_to_tagformer

        weaver = ParticleTransformer(input_dim=16, num_classes=10).eval()
        part = create_model("part", num_classes=10, in_features=16).eval()
        part.load_state_dict(weaver_to_tagformer(weaver.state_dict()), strict=True)
        torch.manual_seed(0)
        phat = create_model("phat_small", num_classes=5, in_features=3, num_particles=args.phat_particles).eval()
        models = {"part": part, "phat": phat}
        if side == "after":
            from tagformer.models.inference import prepare_for_inference

            for name, model in models.items():
                self.fns[f"{name}/after"] = prepare_for_inference(model)
                if args.plain:
                    self.fns[f"{name}/after-plain"] = model
            self.fns["part/weaver"] = weaver
        else:
            for name, model in models.items():
                self.fns[f"{name}/before"] = model
        self.sizes = {"part": (args.part_batch, args.part_particles), "phat": (args.phat_batch, args.phat_particles)}
        import tagformer

        self.origin = str(Path(tagformer.__file__).resolve().parents[1])

    def batch(self, model: str, scenario: str) -> Any:
        key = (model, scenario)
        if key not in self.inputs:
            batch, n = self.sizes[model]
            jets = make_jets(batch, n, SHAPES[model][0], n if scenario == "full" else min(20, n), seed=1)
            self.inputs[key] = jets
        return self.inputs[key]

    def call(self, case: str, scenario: str) -> Any:
        model = case.split("/")[0]
        jets = self.batch(model, scenario)
        fn = self.fns[case]
        if case == "part/weaver":
            if scenario not in self.weaver_inputs:
                x, v = jets.features.transpose(1, 2).contiguous(), jets.p4.transpose(1, 2).contiguous()
                self.weaver_inputs[scenario] = (x, v, jets.mask[:, None, :].float())
                with torch.inference_mode():
                    for _ in range(6):  # weaver's sequence trimmer switches on after 5 calls
                        fn(*(t[:16] for t in self.weaver_inputs[scenario]))
            return fn(*self.weaver_inputs[scenario])
        return fn(jets)

    def handle(self, request: dict) -> dict:
        op = request["op"]
        if op == "hello":
            return {"cases": sorted(self.fns), "origin": self.origin, "torch": torch.__version__,
                    "threads": torch.get_num_threads()}
        if op == "logits":
            with torch.inference_mode():
                out = self.call(request["case"], request["scenario"])
            return {"logits": out.float().tolist()}
        if op == "time":
            calls = int(request["calls"])
            with torch.inference_mode():
                self.call(request["case"], request["scenario"])  # warm caches for this case
                start = time.perf_counter()
                for _ in range(calls):
                    self.call(request["case"], request["scenario"])
                return {"seconds": (time.perf_counter() - start) / calls}
        raise ValueError(f"unknown request {op!r}")


def worker_main(side: str, args: argparse.Namespace) -> None:
    worker = Worker(side, args)
    for line in sys.stdin:
        reply = worker.handle(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------------- parent


class Remote:
    """One worker subprocess with its own ``PYTHONPATH``."""

    def __init__(self, side: str, src: Path, argv: list[str], threads: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.side = side
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", side, *argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True, cwd=str(src.parent))

    def ask(self, **request: Any) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.side} worker exited (code {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def ensure_worktree(path: Path, commit: str) -> Path:
    if not (path / "src" / "tagformer").is_dir():
        print(f"creating git worktree {path} at {commit}", flush=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), commit], check=True)
    return path / "src"


def worker_argv(args: argparse.Namespace) -> list[str]:
    return ["--threads", str(args.threads), "--part-batch", str(args.part_batch), "--part-particles",
            str(args.part_particles), "--phat-batch", str(args.phat_batch), "--phat-particles",
            str(args.phat_particles)] + (["--plain"] if args.plain else [])


def max_abs_diff(a: list, b: list) -> float:
    return float((torch.tensor(a) - torch.tensor(b)).abs().max())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per timing sample (at least)")
    ap.add_argument("--part-batch", type=int, default=256)
    ap.add_argument("--part-particles", type=int, default=128)
    ap.add_argument("--phat-batch", type=int, default=1024)
    ap.add_argument("--phat-particles", type=int, default=64)
    ap.add_argument("--scenarios", nargs="+", default=["padded", "full"], choices=["padded", "full"])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--plain", action="store_true", help="also time the after model without prepare_for_inference")
    ap.add_argument("--before-tree", type=Path, default=Path("/tmp/tagformer_before"))
    ap.add_argument("--before-commit", default="2ae58e1")
    ap.add_argument("--worker", choices=["before", "after"], help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker, args)
        return
    before_src = ensure_worktree(args.before_tree, args.before_commit)
    remotes = {side: Remote(side, src, worker_argv(args), args.threads)
               for side, src in (("before", before_src), ("after", REPO / "src"))}
    try:
        run(args, remotes)
    finally:
        for remote in remotes.values():
            remote.close()


def run(args: argparse.Namespace, remotes: dict[str, Remote]) -> None:
    owner: dict[str, Remote] = {}
    for side, remote in remotes.items():
        hello = remote.ask(op="hello")
        print(f"{side}: tagformer from {hello['origin']}, torch {hello['torch']}, threads {hello['threads']}")
        owner.update({case: remote for case in hello["cases"]})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; float32, eager, inference_mode; part batch {args.part_batch} N "
          f"{args.part_particles}, phat_small batch {args.phat_batch} N {args.phat_particles}", flush=True)

    groups = [(m, s) for m in args.models for s in args.scenarios]
    cases = {m: sorted(c for c in owner if c.startswith(m + "/")) for m in args.models}
    calls: dict[tuple[str, str], int] = {}
    for model, scenario in groups:
        logits = {c: owner[c].ask(op="logits", case=c, scenario=scenario)["logits"] for c in cases[model]}
        ref = "part/weaver" if model == "part" else f"{model}/before"
        diffs = ", ".join(f"{c} {max_abs_diff(logits[c], logits[ref]):.1e}" for c in cases[model] if c != ref)
        print(f"{model} {scenario}: max |logit - {ref}|: {diffs}", flush=True)
        slowest = max(owner[c].ask(op="time", case=c, scenario=scenario, calls=1)["seconds"] for c in cases[model])
        calls[(model, scenario)] = max(1, int(args.min_time / max(slowest, 1e-9)) + 1) if args.min_time > 0 else 1

    samples: dict[tuple[str, str, str], list[float]] = {}
    for r in range(args.repeats):
        for model, scenario in groups:
            order = cases[model][r % len(cases[model]):] + cases[model][: r % len(cases[model])]
            line = []
            for case in order:
                t = owner[case].ask(op="time", case=case, scenario=scenario, calls=calls[(model, scenario)])["seconds"]
                samples.setdefault((model, scenario, case), []).append(t)
                line.append(f"{case} {t * 1e3:.1f} ms")
            print(f"  repeat {r} {model} {scenario}: " + ", ".join(line), flush=True)

    rate: dict[tuple[str, str, str], float] = {}
    print(f"\njets/s (median of {args.repeats} samples, each the mean of the number of calls given):")
    for model, scenario in groups:
        batch = args.part_batch if model == "part" else args.phat_batch
        for case in cases[model]:
            rate[(model, scenario, case)] = batch / statistics.median(samples[(model, scenario, case)])
        print(f"  {model:4s} {scenario:6s} ({calls[(model, scenario)]} calls): " + "  ".join(
            f"{case.split('/')[1]} {rate[(model, scenario, case)]:9.1f}" for case in cases[model]))
    print("\nratios (jets/s; > 1 means the first is faster):")
    for model, scenario in groups:
        pairs = [("after", "before")]
        if model == "part":
            pairs += [("after", "weaver"), ("before", "weaver")]
        if args.plain:
            pairs += [("after-plain", "before")]
        r = {case.split("/")[1]: rate[(model, scenario, case)] for case in cases[model]}
        print(f"  {model} {scenario}: " + ", ".join(f"{a}/{b} {r[a] / r[b]:.3f}" for a, b in pairs))


if __name__ == "__main__":
    main()
