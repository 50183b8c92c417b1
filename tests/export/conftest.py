"""Fixtures for export tests (helpers in export_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from export_helpers import build_run, write_hls4ml


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hls4ml(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture
def make_run(tiny_data: Path, tmp_path: Path) -> Callable[..., Path]:
    def make(model: str, particles: int = 16, name: str = "run") -> Path:
        return build_run(tmp_path / name, tiny_data, model, particles)

    return make
