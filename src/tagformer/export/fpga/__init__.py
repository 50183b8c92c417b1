"""Trigger hardware path: fixed-point quantisation-aware fine-tuning, bit-exact emulation, FPGA cost estimates.

The quantiser is native torch (:mod:`.fixed`); each supported model has a hardware variant (:mod:`.hardware`)
written once against a small operation set (:mod:`.ops`) that runs either on torch tensors (fake
quantisation, trainable) or on da4ml's symbolic fixed-point arrays. Tracing the same forward through da4ml
gives the integer circuit whose compiled interpreter is the bit-exact emulation and whose ``cost`` /
``latency`` are the LUT and latency estimates (:mod:`.emulate`, :mod:`.cost`). See docs/fpga.md.
"""

from __future__ import annotations

from tagformer.errors import TagformerError

#: The optional extra that installs the hardware path's dependencies.
EXTRA = "fpga"


def require_da4ml() -> None:
    """Raise a :class:`TagformerError` naming the extra if da4ml is not installed."""
    try:
        import da4ml.trace  # noqa: F401
    except ImportError as exc:
        raise TagformerError(
            f"the FPGA path needs the optional package da4ml: pip install 'tagformer[{EXTRA}]'"
        ) from exc
