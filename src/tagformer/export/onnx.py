"""ONNX export of a tagger (its input normalisation included), and onnxruntime helpers.

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
``N <= num_particles`` of the run). The graph is the tagger itself: its first node is the tagger's own
:class:`~tagformer.models.input_norm.InputNorm`, ``(x - mean) / std`` with padded slots set to 0, whose
statistics (fitted on the run's training split) are buffers saved with the weights.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tagformer.atomic import atomic_path
from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError

INPUT_NAMES = ("features", "p4", "mask")
OUTPUT_NAMES = ("logits",)


class TensorTagger(nn.Module):
    """``tagger`` called with plain tensors ``(features, p4, mask)`` instead of a JetBatch (ONNX-friendly).

    It only packs the tensors into a :class:`~tagformer.data.batch.JetBatch`: the features are raw, the
    tagger normalises them itself.

    Parameters
    ----------
    tagger : a model mapping a JetBatch of raw features to logits (what ``create_model`` returns).
    """

    def __init__(self, tagger: nn.Module) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, features: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.tagger(JetBatch(features=features, p4=p4, mask=mask))


def export_onnx(module: nn.Module, example: JetBatch, path: str | Path, *, name: str = "model") -> Path:
    """Export ``module(features, p4, mask) -> logits`` to ``path`` with dynamic batch and particle axes.

    ``module`` takes plain tensors (e.g. :class:`TensorTagger`); it is put in eval mode.

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
            # one eager call first: libraries that memoise tensors on first use (lgatr's lru_cache'd algebra
            # tables) must not cache the tracer's symbolic tensors, which would break every later eager call
            module(*args)
            program = torch.onnx.export(
                module, args, dynamo=True, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                dynamic_shapes={"features": axes, "p4": axes, "mask": axes}, verbose=False,
            )
    except Exception as exc:  # torch.export / onnx conversion failures of this architecture
        raise ModelError(f"{name} cannot be exported to ONNX: {_root_cause(exc)}") from exc
    if program is None:
        raise ModelError(f"{name} cannot be exported to ONNX: torch.onnx.export returned nothing")
    with atomic_path(path) as tmp:
        program.save(str(tmp))
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
