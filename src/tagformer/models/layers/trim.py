"""Drop particle slots that are padding in every jet of the batch (eager mode only).

Real particles usually come first and jets of a batch have very different multiplicities, so the last
slots are often padding everywhere (hls4ml 150p jets hold ~50 real particles). Models whose output does not
depend on trailing padding (every padding-invariant model) can cut them off before any work. Under
tracing/export the batch is returned unchanged, so exported graphs keep static, data-independent shapes.
"""

from __future__ import annotations

from tagformer.data.batch import JetBatch
from tagformer.tracing import is_tracing


def trim_trailing_padding(batch: JetBatch) -> JetBatch:
    """``batch`` restricted to the slots up to the last one that is real in some jet (at least one)."""
    if is_tracing():
        return batch
    used = batch.mask.any(dim=0).nonzero()
    n = int(used.max()) + 1 if used.numel() else 1
    if n == batch.mask.shape[1]:
        return batch
    return batch.replace(features=batch.features[:, :n], p4=batch.p4[:, :n], mask=batch.mask[:, :n])
