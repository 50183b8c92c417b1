"""Two checks next to `tagformer explain` for docs/interpretability.md, on the same jets with the same code.

1. For every attention module whose effective particle map is a distribution: the weight each particle puts
   on itself, and the share of the weight it puts on OTHER particles that lands in its own C/A subjet,
   each against uniform attention over the same keys.
2. Accuracy after removing each jet's k hardest (pT) particles, the same removal as the faithfulness test.

Run: PYTHONPATH=src .venv/bin/python docs/figures/explain/extra_checks.py OUT.json RUN [RUN ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from tagformer.eval.explain.attention import collect_attention
from tagformer.eval.explain.data import jet_geometry, load_jets
from tagformer.eval.explain.faithfulness import faithfulness
from tagformer.eval.explain.subjets import subjet_labels
from tagformer.rundir import load_run

JETS, BATCH, SUBJETS = 1000, 128, 3
SUMS = ("rows", "self", "self_uniform", "rows_other", "other_same", "other_same_uniform")


def _add(sums: dict[str, torch.Tensor], w: torch.Tensor, u: torch.Tensor, mask: torch.Tensor,
         subjets: torch.Tensor) -> None:
    """Add one batch's per-head sums for effective map ``w`` and its uniform baseline ``u`` (B, H, N, N)."""
    eye = torch.eye(mask.shape[1], dtype=torch.bool)[None]
    other = mask[:, None, :] & mask[:, :, None] & ~eye
    same = (subjets[:, :, None] == subjets[:, None, :]) & other
    rows = mask[:, None, :].expand(-1, w.shape[1], -1)

    def share(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = (m * other[:, None]).sum(-1)
        return (m * same[:, None]).sum(-1) / total.clamp(min=1e-12), total

    w_same, _ = share(w)
    u_same, u_total = share(u)
    ok = rows & (u_total > 0)  # real queries with at least one other reachable particle
    values = {"rows": rows.float(), "self": torch.diagonal(w, dim1=-2, dim2=-1) * rows,
              "self_uniform": torch.diagonal(u, dim1=-2, dim2=-1) * rows, "rows_other": ok.float(),
              "other_same": torch.where(ok, w_same, 0.0), "other_same_uniform": torch.where(ok, u_same, 0.0)}
    for key, value in values.items():
        sums[key] = sums.get(key, 0) + value.sum((0, 2))


def check(run_dir: str) -> dict:
    """Both checks for one run (the first JETS jets of its test split)."""
    run = load_run(run_dir)
    model = run.model.eval()
    batch = load_jets(run, None, JETS, BATCH)
    subjets = torch.from_numpy(subjet_labels(batch.p4.double().numpy(), batch.mask.numpy(), SUBJETS))
    sums: dict[str, dict[str, torch.Tensor]] = {}
    for start in range(0, len(batch), BATCH):
        part = batch.select(slice(start, start + BATCH))
        _, modules = collect_attention(model, part)
        for name, att in modules.items():
            if att.particle is not None and att.stochastic and att.uniform is not None:
                _add(sums.setdefault(name, {}), att.particle.float(), att.uniform.float(), part.mask,
                     subjets[start:start + BATCH])
    out: dict = {"modules": {}}
    for name, s in sums.items():
        out["modules"][name] = {
            "self_weight": (s["self"] / s["rows"]).tolist(),
            "self_weight_uniform": (s["self_uniform"] / s["rows"]).tolist(),
            "same_subjet_of_other": (s["other_same"] / s["rows_other"]).tolist(),
            "same_subjet_of_other_uniform": (s["other_same_uniform"] / s["rows_other"]).tolist(),
        }
    pt = torch.from_numpy(jet_geometry(batch).pt)
    faith = faithfulness(model, batch, {"hardest": pt}, seed=0, batch_size=BATCH)
    out["remove_hardest"] = {"ks": faith["ks"], "accuracy": faith["accuracy"],
                             "hardest": faith["curves"]["hardest"], "random": faith["curves"]["random"]}
    return out


def main(argv: list[str]) -> None:
    torch.set_num_threads(2)
    result = {Path(run).name: check(run) for run in argv[1:]}
    Path(argv[0]).write_text(json.dumps(result, indent=1) + "\n")
    for run, res in result.items():
        print(run, json.dumps(res["remove_hardest"]))
        for name, mod in res["modules"].items():
            print(" ", name, {k: [round(v, 3) for v in vals] for k, vals in mod.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
