"""Every registered ONNX-exportable model goes through the export pipeline at its smallest size.

``export_run`` on a run directory (untrained weights, the tiny hls4ml file of conftest.py): the graph is
written, onnxruntime loads it (a duplicate initializer name, e.g. the "Initializer 'mean' is already
registered" that once broke every SAL-T export, fails here) and reproduces torch's logits on the run's
test split. Part of the default test run so that CI catches the next model that stops exporting.
``salt_ref`` (SAL-T with the reference's partition rule) is exported too.
"""

from __future__ import annotations

import importlib.util

import pytest

from tagformer.export.pipeline import PARITY_TOLERANCE, export_run
from tagformer.models import get_entry, list_models

CASES = [get_entry(m).smallest for m in list_models() if get_entry(m).capabilities.onnx_exportable] + ["salt_ref"]


@pytest.mark.parametrize("preset", CASES)
def test_export_pipeline_parity(make_run, preset: str) -> None:
    for pkg in get_entry(preset).capabilities.requires:
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{preset} needs {pkg}")
    run = make_run(preset)
    report = export_run(run, run.parent / "onnx", max_jets=12)
    parity = report["parity"]
    assert (run.parent / "onnx" / "model.onnx").stat().st_size > 0
    assert parity["jets"] == 12 and parity["passed"], parity
    assert parity["max_abs_logit_diff"] <= PARITY_TOLERANCE and parity["argmax_agreement"] == 1.0, parity
