"""Export a trained run: ONNX (normalisation inside the tagger), parity on the test split, optional int8.

``export_run(RUN)`` writes into ``RUN/export/`` (or ``out_dir``):

- ``model.onnx``       fp32 graph, inputs (features raw, p4, mask) -> logits (see :mod:`.onnx`);
- ``model.int8.onnx``  with ``int8=True``: dynamically quantised copy;
- ``export.json``      input contract, class names, feature set and ordering, the input normalisation held
                       by the graph, parity of onnxruntime against torch on the run's test split, int8
                       accuracy change.

Parity is measured on held-out jets: the run's test split, loaded through the run's own data pipeline,
which yields raw features. The same raw features are fed to the torch tagger and to the graph (the int8
graph too), so the graph's normalisation node is part of what is checked. Runs saved before the
encoder/heads split are upgraded on load (:func:`tagformer.rundir.load_run`) and export the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagformer.atomic import atomic_write_json, check_output_dir
from tagformer.data.batch import JetBatch
from tagformer.errors import ConfigError, ModelError, TagformerError
from tagformer.export.onnx import TensorTagger, export_onnx, onnx_logits, onnx_session
from tagformer.export.parity import compare_logits
from tagformer.export.quantize import quantize_int8
from tagformer.rundir import LoadedRun, RunDir, load_run

ONNX_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
REPORT_NAME = "export.json"
#: An exported graph must reproduce torch's logits to this absolute tolerance.
PARITY_TOLERANCE = 1e-4


@dataclass
class HeldOutJets:
    """Held-out jets (raw features) as numpy arrays for the graph and as batches for torch."""

    features: np.ndarray
    p4: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    batches: list[JetBatch]


def held_out_jets(loaded: LoadedRun, max_jets: int | None = None) -> HeldOutJets:
    """The run's test split (up to ``max_jets``) through the run's data pipeline: raw features."""
    from tagformer.data.datamodule import JetDataModule

    try:
        dm = JetDataModule(loaded.data_config, normaliser_state=loaded.normaliser_state)
        batches: list[JetBatch] = []
        seen = 0
        for batch in dm.test_dataloader():
            if max_jets is not None and seen + len(batch) > max_jets:
                batch = batch.select(slice(0, max_jets - seen))
            batches.append(JetBatch(features=batch.features, p4=batch.p4, mask=batch.mask, labels=batch.labels))
            seen += len(batch)
            if max_jets is not None and seen >= max_jets:
                break
    except FileNotFoundError as exc:
        raise TagformerError(f"cannot load the test split of {loaded.run_dir}: {exc}") from exc
    if not batches:
        raise TagformerError(f"the test split of {loaded.run_dir} has no jets; nothing to check parity on")
    return HeldOutJets(features=torch.cat([b.features for b in batches]).float().numpy(),
                       p4=torch.cat([b.p4 for b in batches]).float().numpy(),
                       mask=torch.cat([b.mask for b in batches]).numpy(),
                       labels=torch.cat([b.labels for b in batches]).numpy(), batches=batches)


def torch_logits(model: torch.nn.Module, batches: list[JetBatch]) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([model(b) for b in batches]).float().numpy()


def graph_logits(path: Path, jets: HeldOutJets, threads: int | None = None, chunk: int = 1024) -> np.ndarray:
    session = onnx_session(path, threads)
    parts = [onnx_logits(session, jets.features[i:i + chunk], jets.p4[i:i + chunk], jets.mask[i:i + chunk])
             for i in range(0, len(jets.labels), chunk)]
    return np.concatenate(parts)


def _targets(out_dir: Path, int8: bool) -> list[Path]:
    return [out_dir / ONNX_NAME, out_dir / REPORT_NAME] + ([out_dir / INT8_NAME] if int8 else [])


def _check_exportable(loaded: LoadedRun) -> str:
    from tagformer.models.registry import resolve

    entry, preset = resolve(loaded.config.model.name)
    if not entry.capabilities.onnx_exportable:
        raise ModelError(f"model {entry.name!r} (run {loaded.run_dir}) is declared not ONNX-exportable "
                         "(capabilities.onnx_exportable=False); deploy it with torch instead")
    return preset


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, *, int8: bool = False,
               overwrite: bool = False, max_jets: int | None = None, threads: int | None = None,
               log: Any = None) -> dict[str, Any]:
    """Export a run to ONNX (and int8), check parity on its test split; returns the ``export.json`` dict.

    Raises :class:`TagformerError` for a missing/incomplete run, an existing export without
    ``overwrite``, or a model that cannot be exported.
    """
    say = log or (lambda _msg: None)
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    loaded = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else RunDir(run_dir).export
    check_output_dir(out, "export directory")
    existing = [p for p in _targets(out, int8) if p.exists()]
    if existing and not overwrite:
        raise TagformerError(f"{existing[0]} already exists; pass --overwrite to replace the export")
    preset = _check_exportable(loaded)
    say(f"loading the test split of {run_dir}")
    jets = held_out_jets(loaded, max_jets)
    example = JetBatch(features=torch.from_numpy(jets.features[:4]), p4=torch.from_numpy(jets.p4[:4]),
                       mask=torch.from_numpy(jets.mask[:4]))
    if len(example) < 2:
        example = example.select(torch.tensor([0, 0]))
    say(f"exporting {loaded.config.model.name} to {out / ONNX_NAME}")
    onnx_path = export_onnx(TensorTagger(loaded.model), example, out / ONNX_NAME,
                            name=f"model {loaded.config.model.name!r}")
    reference = torch_logits(loaded.model, jets.batches)
    fp32 = graph_logits(onnx_path, jets, threads)
    report: dict[str, Any] = {
        "run": str(run_dir),
        "model": loaded.config.model.name,
        "preset": preset,
        "onnx": str(onnx_path),
        "inputs": {
            "features": {"shape": ["batch", "particles", loaded.info.in_features], "dtype": "float32",
                         "meaning": f"raw features of feature set {loaded.data_config.feature_set!r}: "
                                    f"{', '.join(loaded.info.feature_names)}"},
            "p4": {"shape": ["batch", "particles", 4], "dtype": "float32", "meaning": "(px, py, pz, E) in GeV"},
            "mask": {"shape": ["batch", "particles"], "dtype": "bool", "meaning": "True = real particle"},
        },
        "outputs": {"logits": {"shape": ["batch", loaded.info.num_classes], "dtype": "float32"}},
        "class_names": list(loaded.info.class_names),
        "ordering": loaded.data_config.ordering,
        "num_particles": loaded.info.num_particles,
        "normaliser": _graph_normalisation(loaded),
        "legacy_checkpoint": loaded.legacy,
        "parity": {**compare_logits(reference, fp32, jets.labels), "split": "test",
                   "tolerance": PARITY_TOLERANCE},
    }
    report["parity"]["passed"] = bool(report["parity"]["max_abs_logit_diff"] <= PARITY_TOLERANCE)
    if int8:
        say(f"quantising to int8: {out / INT8_NAME}")
        int8_path = quantize_int8(onnx_path, out / INT8_NAME)
        report["int8"] = {"onnx": str(int8_path), "method": "onnxruntime quantize_dynamic, QInt8 weights",
                          **compare_logits(fp32, graph_logits(int8_path, jets, threads), jets.labels),
                          "split": "test"}
    atomic_write_json(out / REPORT_NAME, report)
    return report


def _graph_normalisation(loaded: LoadedRun) -> dict[str, Any]:
    """The standardisation inside the graph (the tagger's ``input_norm`` buffers), with its feature names."""
    norm = loaded.model.input_norm
    return {"feature_set": loaded.data_config.feature_set, "feature_names": list(loaded.info.feature_names),
            "mean": [float(x) for x in norm.mean], "std": [float(x) for x in norm.std]}


def iter_summary(report: dict[str, Any]) -> Iterator[str]:
    """Human-readable lines of an export report (what the CLI prints)."""
    p = report["parity"]
    status = "ok" if p["passed"] else "FAILED"
    yield f"exported {report['model']} -> {report['onnx']}"
    yield (f"parity on {p['jets']} test jets: max |logit diff| {p['max_abs_logit_diff']:.3g} "
           f"(tolerance {p['tolerance']:g}, {status}), argmax agreement {_pct(p['argmax_agreement'])}, "
           f"accuracy torch {_pct(p['accuracy_reference'])} / onnxruntime {_pct(p['accuracy_other'])}")
    if "int8" in report:
        q = report["int8"]
        yield (f"int8 -> {q['onnx']}: accuracy {_pct(q['accuracy_other'])} vs fp32 {_pct(q['accuracy_reference'])} "
               f"({100 * q['accuracy_change']:+.2f} points), macro AUC change {q['auc_change']:+.4f}, "
               f"argmax agreement {_pct(q['argmax_agreement'])}, max |logit diff| {q['max_abs_logit_diff']:.3g}")


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"
