"""Atomic writes leave the old file or the new one, never a torn one or a stray temporary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tagformer.atomic import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text


def test_writes_replace_and_leave_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    atomic_write_text(path, "old")
    atomic_write_json(path, {"x": np.float32(0.5), "n": np.int64(3), "p": Path("r"), "a": np.arange(2)})
    assert json.loads(path.read_text()) == {"x": 0.5, "n": 3, "p": "r", "a": [0, 1]}
    assert path.read_text().endswith("\n")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    with pytest.raises(TypeError):
        atomic_write_json(path, {"f": object()}, default=None)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
