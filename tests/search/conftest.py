"""Search tests: tiny hls4ml-layout data (tests/train/tinydata.py) and a two-family space with a tiny budget."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from tinydata import write_tiny_hls4ml


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="session")
def slow_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More jets, so that a trial lasts long enough to be killed in the middle."""
    return write_tiny_hls4ml(tmp_path_factory.mktemp("data") / "more.h5", jets_per_class=200)
