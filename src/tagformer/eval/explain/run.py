"""``explain_run``: attention maps, sparsity, attributions and faithfulness of a trained run, as a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tagformer.eval.explain.accumulate import AttentionAccumulator, AttentionSummary
from tagformer.eval.explain.attention import collect_attention, has_attention
from tagformer.eval.explain.attributions import integrated_gradients, rank_profile, summarise, top_k_share
from tagformer.eval.explain.data import JetGeometry, jet_geometry, load_jets
from tagformer.eval.explain.faithfulness import KS, faithfulness
from tagformer.eval.explain.progress import Log, counter, print_log
from tagformer.eval.explain.report import write_report


def _load(run_dir: str | Path) -> Any:
    from tagformer.rundir import load_run

    return load_run(run_dir)


def pick_examples(labels: torch.Tensor, class_names: list[str], per_class: int) -> dict[int, str]:
    """The first ``per_class`` jets of each class: ``{jet index: row label}``."""
    picked: dict[int, str] = {}
    for c, name in enumerate(class_names):
        for jet in torch.nonzero(labels == c).flatten()[:per_class].tolist():
            picked[int(jet)] = f"{name} (jet {jet})"
    return picked


def _attention(model: torch.nn.Module, batch: Any, geometry: JetGeometry, subjets: torch.Tensor | None,
               num_classes: int, examples: list[int], batch_size: int, device: str,
               log: Log) -> tuple[torch.Tensor, AttentionSummary]:
    acc = AttentionAccumulator(len(batch), batch.num_particles, num_classes, examples)
    order = torch.from_numpy(geometry.order)
    tick = counter(log, "attention maps")
    logits = []
    for start in range(0, len(batch), batch_size):
        part = batch.select(slice(start, start + batch_size))
        out, modules = collect_attention(model, part.to(device))
        stop = start + len(part)
        acc.add(start, modules, part.mask, part.labels, order[start:stop],
                None if subjets is None else subjets[start:stop])
        logits.append(out)
        tick(stop, len(batch))
    return torch.cat(logits), acc.summary()


def missing_attention(probes: bool, summary: AttentionSummary | None) -> str | None:
    """Why there are no attention maps, or None when there are."""
    if summary is not None:
        return None
    return "its attention layers recorded nothing on these jets" if probes else "it has no attention layers"


def attention_notes(name: str, probes: bool, summary: AttentionSummary | None) -> list[str]:
    """The report's notes on what the attention part can and cannot show for this model."""
    why = missing_attention(probes, summary)
    if why is not None:
        return [f"{name}: no attention maps ({why}): there are no maps, sparsity statistics or attention-ranked "
                "faithfulness curve; attributions and the other curves are given"]
    notes = [f"{m} ({i['kind']}): no effective particle x particle map; shown in its own terms"
             for m, i in summary.modules.items() if not i["particle_map"] and not i["received"]]
    notes += [f"{m} ({i['kind']}): its effective particle map is signed and need not sum to 1 (not a "
              "distribution); sparsity is measured on its own-terms weights"
              for m, i in summary.modules.items() if i["particle_map"] and not i["stochastic"]]
    return notes


def _predict(model: torch.nn.Module, batch: Any, batch_size: int, device: str) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(batch.select(slice(s, s + batch_size)).to(device)).float().cpu()
                          for s in range(0, len(batch), batch_size)])


def explain_run(run_dir: str | Path, data: str | None = None, jets: int = 1000, out: str | Path | None = None,
                *, examples: int = 1, ig_steps: int = 32, subjets: int = 3, batch_size: int = 128,
                device: str | None = None, seed: int = 0, log: Log | None = print_log) -> dict[str, Any]:
    """Explain ``run_dir``'s best model on ``jets`` jets; write the report to ``out`` (default ``RUN/explain``).

    Parameters
    ----------
    data : explain on the first jets of this file instead of the run's test split.
    examples : example jets per class whose maps are drawn whole.
    ig_steps : integrated-gradients quadrature points.
    subjets : C/A exclusive subjets per jet (0: no FastJet, no subjet colours or same-subjet statistics).
    device : ``cpu`` or ``cuda`` (default: cpu).
    log : where progress lines go (None: silent).

    Returns
    -------
    Every number of the report (also written as ``explain.json``); ``result["attention"]`` is None for a
    model without attention (``result["attention_missing"]`` says why), whose report still holds
    attributions and faithfulness.
    """
    log = log or (lambda _: None)
    device = device or "cpu"
    torch.manual_seed(seed)
    run = _load(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "explain"
    class_names = list(run.info.class_names)
    batch = load_jets(run, data, jets, batch_size)
    log(f"{len(batch)} jets from {data or 'the test split of ' + str(run.data_config.path)}")
    geometry = jet_geometry(batch)
    labels_sub = None
    if subjets > 0:
        from tagformer.eval.explain.subjets import subjet_labels

        labels_sub = torch.from_numpy(subjet_labels(batch.p4.double().numpy(), batch.mask.numpy(), subjets,
                                                    counter(log, "C/A subjets")))
    model = run.model.to(device).eval()
    picked = pick_examples(batch.labels, class_names, examples)
    name = run.summary.get("preset") or run.config.model.name
    summary = None
    if has_attention(model):
        logits, summary = _attention(model, batch, geometry, labels_sub, len(class_names), list(picked),
                                     batch_size, device, log)
        summary = summary if summary.modules else None
    else:
        logits = _predict(model, batch, batch_size, device)
    notes = attention_notes(name, has_attention(model), summary)
    attr = integrated_gradients(model, batch, steps=ig_steps, batch_size=max(1, batch_size // 4),
                                progress=counter(log, "integrated gradients"))
    summary_attr = summarise(attr, batch.labels, class_names, list(run.info.feature_names))
    rel = summary_attr["completeness"]["rel_delta"]
    if rel > 0.05:
        notes.append(f"integrated gradients miss completeness by {100 * rel:.0f} % of the mean logit gap: the "
                     f"attributions are approximate; raise --ig-steps (now {ig_steps})")
    rank = torch.from_numpy(geometry.rank)
    ks = list(KS)
    scores = None if summary is None or summary.scores is None else torch.from_numpy(summary.scores)
    faith = faithfulness(model, batch, {"attribution": attr.per_particle.abs(), "attention": scores},
                         seed=seed, batch_size=batch_size, progress=log)
    result: dict[str, Any] = {
        "run": str(run_dir), "model": run.config.model.name, "preset": run.summary.get("preset"),
        "data": str(data) if data else str(run.data_config.path), "split": "all" if data else "test",
        "jets": len(batch), "num_particles": batch.num_particles, "class_names": class_names,
        "settings": {"examples": examples, "ig_steps": ig_steps, "subjets": subjets, "seed": seed, "ks": ks},
        "accuracy": float((logits.argmax(-1) == batch.labels).float().mean()),
        "notes": notes,
        "attention": None,
        "attention_missing": missing_attention(has_attention(model), summary),
        "attributions": {**summary_attr,
                         "particle_rank_profile": rank_profile(attr.per_particle, rank),
                         "particle_top_k_share": top_k_share(attr.per_particle, ks)},
        "faithfulness": faith,
    }
    if summary is not None:
        result["attention"] = {"modules": summary.modules, "sparsity": summary.sparsity}
        if scores is not None:
            result["attention"]["received_rank_profile"] = rank_profile(scores, rank)
            result["attention"]["received_top_k_share"] = top_k_share(scores, ks)
    write_report(result, out, summary, geometry, None if labels_sub is None else labels_sub.numpy(), picked)
    log(f"wrote {out / 'report.md'}")
    return result
