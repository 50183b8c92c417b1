"""Run directories written before the encoder/heads split still evaluate (same metrics) and export.

Their checkpoints hold closed classifiers fed normalised features; ``load_run`` upgrades them
(``tagformer.models.legacy.upgrade_state_dict`` with the run's ``normaliser.json``) into taggers that
take raw features, so today's raw-feature pipeline must reproduce the metrics evaluated then.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from legacy_helpers import NAMES, copy_legacy_run, expected_metrics
from tinydata import write_tiny_hls4ml

from tagformer.errors import TagformerError
from tagformer.eval.evaluate import evaluate_run
from tagformer.rundir import load_run


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("legacy-data") / "tiny.h5", seed=0)


@pytest.mark.parametrize("name", NAMES)
def test_legacy_run_loads_as_upgraded_tagger(name: str, tiny_h5: Path, tmp_path: Path) -> None:
    run = load_run(copy_legacy_run(name, tmp_path / name, tiny_h5))
    assert run.legacy
    assert run.model.input_norm.mean.tolist() == pytest.approx(run.normaliser_state["mean"])
    assert run.model.input_norm.std.tolist() == pytest.approx(run.normaliser_state["std"])


@pytest.mark.parametrize("name", NAMES)
def test_legacy_run_evaluates_to_its_recorded_metrics(name: str, tiny_h5: Path, tmp_path: Path) -> None:
    want = expected_metrics(name)
    got = evaluate_run(copy_legacy_run(name, tmp_path / name, tiny_h5), plots=False, device="cpu")
    assert got["split"] == want["split"] == "test"
    assert got["num_jets"] == want["num_jets"] and got["class_counts"] == want["class_counts"]
    assert got["confusion_matrix"] == want["confusion_matrix"]
    assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1e-9)
    assert got["auc_macro"] == pytest.approx(want["auc_macro"], abs=1e-6)
    for cls, auc in want["auc"].items():
        assert got["auc"][cls] == pytest.approx(auc, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_legacy_run_exports_with_parity(name: str, tiny_h5: Path, tmp_path: Path) -> None:
    """fp32 (and int8 for the transformer) from the same raw test-split features; torch accuracy as evaluated then."""
    from tagformer.export.pipeline import export_run

    want = expected_metrics(name)
    int8 = name.startswith("transformer")
    report = export_run(copy_legacy_run(name, tmp_path / name, tiny_h5), int8=int8)
    parity = report["parity"]
    assert parity["passed"] and parity["max_abs_logit_diff"] <= 1e-4 and parity["argmax_agreement"] == 1.0
    assert parity["jets"] == want["num_jets"]
    assert parity["accuracy_reference"] == pytest.approx(want["accuracy"], abs=1e-9)
    assert parity["accuracy_other"] == pytest.approx(want["accuracy"], abs=1e-9)
    assert report["legacy_checkpoint"] is True
    assert report["normaliser"]["mean"] == pytest.approx(load_run(tmp_path / name).normaliser_state["mean"])
    if int8:
        assert report["int8"]["jets"] == want["num_jets"] and 0.0 <= report["int8"]["argmax_agreement"] <= 1.0


def test_legacy_checkpoint_that_does_not_fit_is_one_clear_error(tiny_h5: Path, tmp_path: Path) -> None:
    import torch

    run = copy_legacy_run(NAMES[0], tmp_path / "broken", tiny_h5)
    blob = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    blob["state_dict"].pop(next(iter(blob["state_dict"])))
    torch.save(blob, run / "checkpoints" / "best.pt")
    with pytest.raises(TagformerError, match=r"saved before the encoder/heads split.*retrain") as info:
        load_run(run)
    assert len(str(info.value).splitlines()) == 1
