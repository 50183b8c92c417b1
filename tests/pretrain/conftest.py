"""Pretraining tests: tiny hls4ml-layout data (tests/train/tinydata.py), a one-class variant, and one
shared, quickly pretrained mpm run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from helpers import TINY
from tinydata import write_tiny_hls4ml


def one_class_copy(src: Path, dst: Path) -> Path:
    """``src`` with every jet relabelled as the first class (a QCD-only style file)."""
    import shutil

    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        jets = f["jets"][...]
        jets[:, 3:] = 0.0
        jets[:, 3] = 1.0
        f["jets"][...] = jets
    return dst


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="session")
def one_class_h5(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = one_class_copy(tiny_h5, tmp_path_factory.mktemp("data1") / "qcd_only.h5")
    import h5py

    with h5py.File(path) as f:
        assert np.unique(f["jets"][:, 3:].argmax(1)).tolist() == [0]
    return path


@pytest.fixture(scope="session")
def mpm_run(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch mpm run of transformer_tiny (one layer) on the tiny file."""
    from tagformer.pretrain.config import build_pretrain_config
    from tagformer.pretrain.run import pretrain

    run_dir = tmp_path_factory.mktemp("pruns") / "mpm"
    cfg = build_pretrain_config(model="transformer_tiny", data=str(tiny_h5), method="mpm",
                                overrides=[*TINY, "trainer.max_epochs=2", "model.num_layers=1"])
    pretrain(cfg, run_dir)
    return run_dir
