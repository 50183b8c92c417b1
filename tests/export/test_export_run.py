"""Export path of a run: normalisation in the graph, parity on the test split, int8, every exportable model."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from export_helpers import build_run

from tagformer.bench.inputs import synthetic_jets
from tagformer.errors import TagformerError
from tagformer.export.onnx import onnx_logits, onnx_session
from tagformer.export.pipeline import INT8_NAME, ONNX_NAME, REPORT_NAME, export_run


@pytest.fixture(scope="module")
def exported(tiny_data, tmp_path_factory) -> tuple[Path, dict]:
    """One run exported with int8, shared by the tests below (a dynamo export costs ~10-40 s here)."""
    run = build_run(tmp_path_factory.mktemp("exported") / "run", tiny_data, "transformer")
    return run, export_run(run, int8=True)


def test_export_writes_graphs_and_report(exported) -> None:
    run, report = exported
    out = run / "export"
    assert {p.name for p in out.iterdir()} == {ONNX_NAME, INT8_NAME, REPORT_NAME}
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["parity"]["passed"] and saved["parity"]["max_abs_logit_diff"] <= 1e-4
    assert saved["parity"]["argmax_agreement"] == 1.0 and saved["parity"]["split"] == "test"
    assert saved["parity"]["jets"] == report["parity"]["jets"] > 0
    assert set(saved["inputs"]) == {"features", "p4", "mask"} and saved["class_names"][0] == "g"
    q = saved["int8"]
    assert q["accuracy_change"] == pytest.approx(q["accuracy_other"] - q["accuracy_reference"])
    assert 0.0 <= q["argmax_agreement"] <= 1.0 and np.isfinite(q["max_abs_logit_diff"])
    assert (out / INT8_NAME).stat().st_size < (out / ONNX_NAME).stat().st_size


def test_graph_starts_with_the_taggers_own_input_norm(exported) -> None:
    """The raw features enter the graph through the tagger's input_norm buffers (no separate normalisation)."""
    import onnx
    from onnx import numpy_helper

    run, report = exported
    graph = onnx.load(str(run / "export" / ONNX_NAME)).graph
    consumers = [n for n in graph.node if "features" in n.input and n.op_type != "Shape"]
    assert [(n.op_type, list(n.input)) for n in consumers] == [("Sub", ["features", "tagger.input_norm.mean"])]
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    assert np.allclose(weights["tagger.input_norm.mean"], report["normaliser"]["mean"])
    assert np.allclose(weights["tagger.input_norm.std"], report["normaliser"]["std"])
    assert not any("normalis" in name for name in weights)


def test_graph_takes_raw_features_at_any_batch_and_particle_count(exported) -> None:
    from tagformer.data.batch import JetBatch
    from tagformer.rundir import load_run

    run, _ = exported
    loaded = load_run(run)
    session = onnx_session(run / "export" / ONNX_NAME)
    for batch, particles in ((1, 5), (9, 16), (3, 40)):
        jets = synthetic_jets(batch, particles, 3, seed=batch)
        jets.mask[:, particles // 2 + 1:] = False
        jets.features[~jets.mask] = 1e3  # garbage in padded slots
        got = onnx_logits(session, jets.features.numpy(), jets.p4.numpy(), jets.mask.numpy())
        with torch.no_grad():
            want = loaded.model(JetBatch(features=jets.features, p4=jets.p4, mask=jets.mask)).numpy()
        assert np.abs(got - want).max() <= 1e-4


def test_existing_export_is_not_overwritten(exported) -> None:
    run, _ = exported
    before = (run / "export" / ONNX_NAME).stat().st_mtime_ns
    with pytest.raises(TagformerError, match="already exists; pass --overwrite"):
        export_run(run)
    assert (run / "export" / ONNX_NAME).stat().st_mtime_ns == before


def test_deploy_doc_snippet_runs(exported, capsys) -> None:
    """The python snippet in docs/deploy.md runs as written against a real export."""
    run, _ = exported
    text = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert 'EXPORT_DIR = "runs/phat_small/export"' in code
    code = code.replace('"runs/phat_small/export"', repr(str(run / "export")))
    exec(compile(code, "deploy.md", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    probs = ast.literal_eval(printed)  # a dict of class -> probability
    assert list(probs) == ["g", "q", "w", "z", "t"] and sum(probs.values()) == pytest.approx(1.0, abs=0.01)
