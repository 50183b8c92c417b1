"""ONNX export of a tagger with its input normalisation inside the graph, and onnxruntime helpers.

Input contract of every exported graph (see docs/deploy.md):

=========  ==============  =======  ==========================================================
name       shape           dtype    meaning
=========  ==============  =======  ==========================================================
features   (B, N, F)       float32  raw (un-normalised) per-particle features of the run's feature
                                    set, in the run's particle ordering
p4         (B, N, 4)       float32  (px, py, pz, E) in GeV, same particle order
mask       (B, N)          bool     True = real particle; padded slots may hold anything
logits     (B, C)          float32  output: class logits (softmax gives probabilities)
=========  ==============  =======  ==========================================================

``B`` and ``N`` are dynamic axes (models with a fixed sequence length, e.g. Linformer, need
``N <= num_particles`` of the run). The normalisation ``(x - mean) / std`` with padded slots set to 0 is
the first node of the graph, with the mean and std fitted on the run's training split.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError

INPUT_NAMES = ("features", "p4", "mask")
OUTPUT_NAMES = ("logits",)


class NormalisedTagger(nn.Module):
    """``model`` preceded by the run's feature standardisation; takes plain tensors (ONNX-friendly).

    Parameters
    ----------
    model : a zoo model mapping JetBatch -> logits.
    mean, std : per-feature standardisation (length F); padded slots are set to 0 after it.
    """

    def __init__(self, model: nn.Module, mean: Any, std: Any) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))

    @classmethod
    def from_state(cls, model: nn.Module, normaliser_state: dict[str, Any]) -> NormalisedTagger:
        """Build from a run's ``normaliser.json`` state (:class:`tagformer.data.normalise.Normaliser`)."""
        from tagformer.data.normalise import Normaliser

        norm = Normaliser.from_state(normaliser_state)
        return cls(model, norm.mean, norm.std)

    def normalise(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean) / self.std
        return torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype))

    def forward(self, features: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch = JetBatch(features=self.normalise(features, mask), p4=p4, mask=mask)
        return self.model(batch)


def export_onnx(module: nn.Module, example: JetBatch, path: str | Path, *, name: str = "model") -> Path:
    """Export ``module(features, p4, mask) -> logits`` to ``path`` with dynamic batch and particle axes.

    ``example`` provides example inputs (at least 2 jets and 2 particles, or torch.export specialises
    the axis). Raises :class:`ModelError` if the model cannot be exported.
    """
    if len(example) < 2 or example.num_particles < 2:
        raise ValueError("the export example needs at least 2 jets and 2 particles")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    batch, parts = torch.export.Dim("batch"), torch.export.Dim("particles")
    axes = {0: batch, 1: parts}
    args = (example.features.float(), example.p4.float(), example.mask.bool())
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, args, dynamo=True, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                dynamic_shapes={"features": axes, "p4": axes, "mask": axes}, verbose=False,
            )
    except Exception as exc:  # torch.export / onnx conversion failures of this architecture
        raise ModelError(f"{name} cannot be exported to ONNX: {_root_cause(exc)}") from exc
    if program is None:
        raise ModelError(f"{name} cannot be exported to ONNX: torch.onnx.export returned nothing")
    program.save(str(path))
    return path


def _root_cause(exc: BaseException) -> str:
    """First line of the innermost exception in the ``__cause__`` chain (the real reason)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def onnx_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU ``InferenceSession`` for ``path`` (``threads`` intra-op threads if given)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_logits(session: Any, features: np.ndarray, p4: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Run an exported graph on numpy inputs; returns logits (B, C) float32."""
    feeds = {"features": np.ascontiguousarray(features, dtype=np.float32),
             "p4": np.ascontiguousarray(p4, dtype=np.float32),
             "mask": np.ascontiguousarray(mask, dtype=bool)}
    (out,) = session.run(list(OUTPUT_NAMES), feeds)
    return out
