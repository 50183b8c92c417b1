"""Fixtures for training tests: tiny hls4ml-layout data and one shared, quickly trained run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="session")
def trained_run(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch transformer_tiny run on the tiny file (trained once per session)."""
    from tagformer.config import build_config
    from tagformer.train.run import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = build_config(model="transformer_tiny", data=str(tiny_h5), overrides=[*TINY_OVERRIDES, "trainer.max_epochs=2"])
    train(cfg, run_dir)
    return run_dir
