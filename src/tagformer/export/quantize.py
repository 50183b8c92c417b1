"""int8 dynamic quantisation of an exported ONNX graph (onnxruntime.quantization.quantize_dynamic).

Weights of MatMul/Gemm (and attention projections) are stored as int8 with per-tensor scales;
activations are quantised on the fly at run time, so no calibration data is needed. Elementwise work,
softmax and normalisations stay in float32.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tagformer.atomic import atomic_path
from tagformer.errors import ModelError


def quantize_int8(src: str | Path, dst: str | Path, *, per_channel: bool = False) -> Path:
    """Write an int8 dynamically quantised copy of the ONNX model ``src`` to ``dst``.

    Raises :class:`ModelError` if onnxruntime cannot quantise the graph.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    # The torch.export-based exporter records intermediate shapes (value_info) that onnx's shape inference,
    # run again by the quantiser, can contradict on dynamic axes; the graph itself does not need them.
    model = onnx.load(str(src))
    model.graph.ClearField("value_info")
    stripped = dst.with_name(dst.stem + ".prep.onnx")
    onnx.save(model, str(stripped))
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with atomic_path(dst) as tmp:
            quantize_dynamic(stripped, tmp, weight_type=QuantType.QInt8, per_channel=per_channel)
    except Exception as exc:  # onnxruntime raises plain exceptions for unsupported graphs
        raise ModelError(f"cannot quantise {src} to int8: {exc}") from exc
    finally:
        logging.getLogger().setLevel(quiet)
        stripped.unlink(missing_ok=True)
    return dst
