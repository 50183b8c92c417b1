"""The jets to explain: the first ``n`` jets of a run's test split (or of another file) as one batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.batch import JetBatch
from tagformer.errors import DataError


def load_jets(run: Any, data: str | None, jets: int, batch_size: int = 256) -> JetBatch:
    """The first ``jets`` jets of ``run``'s test split, or of all of ``data``, as one batch on CPU.

    Features are what the run's data module serves (the same inputs ``tagformer evaluate`` feeds the
    model). Raises :class:`~tagformer.errors.DataError` for a missing file, other classes than the run's,
    or fewer jets than asked for.
    """
    from tagformer.data.collate import collate_jets
    from tagformer.data.datamodule import JetDataModule

    if jets < 1:
        raise DataError(f"--jets must be at least 1, got {jets}")
    cfg = run.data_config.model_copy(update={"batch_size": batch_size})
    source = f"the test split of {cfg.path}"
    if data is not None:
        if not Path(data).exists():
            raise DataError(f"data file {data} does not exist")
        cfg = cfg.model_copy(update={"path": str(data), "test_path": str(data), "val_path": str(data)})
        source = str(data)
    dm = JetDataModule(cfg, normaliser_state=run.normaliser_state)
    dm.setup("test")
    names = [str(c) for c in dm.info.class_names]
    if names != list(run.info.class_names):
        raise DataError(f"classes of {data or cfg.path} ({names}) differ from the run's ({run.info.class_names})")
    parts, total = [], 0
    for batch in dm.test_dataloader():
        parts.append(batch)
        total += len(batch)
        if total >= jets:
            break
    if total < jets:
        raise DataError(f"{source} holds {total} jets, fewer than the {jets} asked for (lower --jets)")
    out = collate_jets(parts).select(slice(0, jets))
    if out.labels is None:
        raise DataError(f"{source} has no labels")
    return out


@dataclass
class JetGeometry:
    """Where each particle sits in its jet, as numpy arrays (padded slots 0).

    Attributes
    ----------
    pt, deta, dphi : (B, N) particle pT (GeV) and (Δη, Δφ) to the jet axis (the sum of the real particles).
    mask : (B, N) real particles.
    rank : (B, N) pT rank of each particle among its jet's real ones (0 = hardest; N - 1 for padding).
    """

    pt: np.ndarray
    deta: np.ndarray
    dphi: np.ndarray
    mask: np.ndarray
    rank: np.ndarray

    @property
    def order(self) -> np.ndarray:
        """(B, N) slot of the particle with each pT rank (real particles first, by decreasing pT)."""
        return np.argsort(self.rank, axis=1, kind="stable")


def jet_geometry(batch: JetBatch) -> JetGeometry:
    """:class:`JetGeometry` of ``batch`` from its four-momenta."""
    p4 = batch.p4.detach().cpu().double().numpy()
    mask = batch.mask.cpu().numpy()
    p4 = np.where(mask[..., None], p4, 0.0)
    jet = p4.sum(axis=1)
    pt = np.where(mask, kin.pt(p4), 0.0)
    deta = np.where(mask, kin.eta(p4) - kin.eta(jet)[:, None], 0.0)
    dphi = np.where(mask, kin.delta_phi(kin.phi(p4), kin.phi(jet)[:, None]), 0.0)
    key = np.where(mask, -pt, np.inf)
    rank = np.argsort(np.argsort(key, axis=1, kind="stable"), axis=1, kind="stable")
    return JetGeometry(pt=pt, deta=deta, dphi=dphi, mask=mask, rank=rank)
