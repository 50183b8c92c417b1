"""Export path of a run: normalisation in the graph, parity on the test split, int8, every exportable model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tagformer.bench.inputs import synthetic_jets
from tagformer.errors import TagformerError
from tagformer.export.onnx import NormalisedTagger, onnx_logits, onnx_session
from tagformer.export.pipeline import INT8_NAME, ONNX_NAME, REPORT_NAME, export_run
from tagformer.models import get_entry, list_models

EXPORTABLE = [m for m in list_models() if get_entry(m).capabilities.onnx_exportable
              and not get_entry(m).capabilities.requires]


def test_export_transformer_with_int8(make_run) -> None:
    run = make_run("transformer")
    report = export_run(run, int8=True)
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

    # The graph takes RAW features: other batch sizes and particle counts give torch's normalised answer.
    from tagformer.train import load_run

    loaded = load_run(run)
    wrapper = NormalisedTagger.from_state(loaded.model, loaded.normaliser_state).eval()
    session = onnx_session(out / ONNX_NAME)
    for batch, particles in ((1, 5), (9, 16)):
        jets = synthetic_jets(batch, particles, 3, seed=batch)
        jets.mask[:, particles // 2 + 1:] = False
        jets.features[~jets.mask] = 1e3  # garbage in padded slots
        got = onnx_logits(session, jets.features.numpy(), jets.p4.numpy(), jets.mask.numpy())
        with torch.no_grad():
            want = wrapper(jets.features, jets.p4, jets.mask).numpy()
        assert np.abs(got - want).max() <= 1e-4

    with pytest.raises(TagformerError, match="already exists; pass --overwrite"):
        export_run(run)


@pytest.mark.slow  # one dynamo export per model (~5-15 s each on 2 shared cores); fast path: transformer above
@pytest.mark.parametrize("name", [e for e in EXPORTABLE if e != "transformer"])
def test_export_parity_every_exportable_model(make_run, name: str) -> None:
    run = make_run(get_entry(name).smallest)
    report = export_run(run, run.parent / "onnx", max_jets=12)
    assert report["parity"]["jets"] == 12
    assert report["parity"]["max_abs_logit_diff"] <= 1e-4, report["parity"]
    assert report["parity"]["argmax_agreement"] == 1.0
