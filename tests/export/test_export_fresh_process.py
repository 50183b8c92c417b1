"""Exporting a model before any eager call must not break later eager calls (fresh interpreter: no cache warm)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys, tempfile
sys.path.insert(0, {tests!r})
from jetfactory import random_jets
from tagformer.export.onnx import TensorTagger, export_onnx
from tagformer.models import create_model
model = create_model("lgatr_small", num_classes=5, in_features=3, num_particles=16).eval()
jets = random_jets(4, 16, 3, 5, seed=1, min_real=2)
export_onnx(TensorTagger(model), jets, tempfile.mkdtemp() + "/m.onnx")
print("eager after export:", float(model(jets).abs().max()))
"""


def test_lgatr_exports_first_then_runs_eagerly():
    pytest.importorskip("lgatr")
    pytest.importorskip("onnxruntime")
    tests = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=tests)], capture_output=True, text=True,
                         timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "eager after export:" in out.stdout
