"""FPGA objectives: refused before training when they cannot be measured; a tiny search that records da4ml's LUT
and latency estimates of each trained tagger, with a latency constraint set after the fpga stage."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from search_helpers import TINY_SPACE, write_space

from tagformer.cli.main import main
from tagformer.errors import ConfigError
from tagformer.search import load_space, run_search
from tagformer.search.study import default_storage

optuna = pytest.importorskip("optuna", minversion="5.0")  # the search extra

#: Tiny Deep Sets at N = 8 (circuits of a few thousand LUTs: tracing takes well under a second).
DEEPSETS = {"deepsets": {"model": "deepsets_tiny",
                         "params": {"phi_dims": [[4], [8, 8]], "rho_dims": [[4], [8]], "pooling": "sum"}}}
RUN8 = {**TINY_SPACE["run"], "data": {"batch_size": 32, "num_particles": 8}}
LATENCY = "fpga_latency_ns <= 40"
PARAMS = "params <= 200"


def fpga_space(path: Path, **changes: Any) -> Path:
    """A one-family space with ``fpga_lut`` as an objective, 6-bit circuits."""
    base = {"objectives": ["val_acc", "fpga_lut"], "constraints": [], "run": RUN8, "families": DEEPSETS,
            "fpga": {"bits": 6}}
    return write_space(path, **{**base, **changes})


def _search_cmd(space: Path, data: Path, out: Path) -> list[str]:
    return ["search", "--space", str(space), "--data", str(data), "--trials", "2", "--out", str(out)]


@pytest.mark.parametrize("changes", [{}, {"objectives": ["val_acc", "flops"], "constraints": [LATENCY]}],
                         ids=["objective", "constraint"])
def test_fpga_metric_without_the_extra_is_refused_before_training(tiny_h5: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  changes: dict[str, Any]) -> None:
    monkeypatch.setitem(sys.modules, "da4ml", None)  # the extra is not installed
    monkeypatch.setitem(sys.modules, "da4ml.trace", None)
    out = tmp_path / "out"
    assert main(_search_cmd(fpga_space(tmp_path / "s.yaml", **changes), tiny_h5, out)) == 2
    err = capsys.readouterr().err
    assert "pip install 'tagformer[fpga]'" in err and "Traceback" not in err
    assert ("fpga_lut" if not changes else "fpga_latency_ns") in err
    assert not out.exists()  # nothing was trained, not even the output folder made


def test_family_without_a_hardware_variant_is_refused(tiny_h5: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    families = {**DEEPSETS, "pointnet": {"model": "pointnet_tiny", "params": {"point_dims": [[8, 8]]}}}
    out = tmp_path / "out"
    assert main(_search_cmd(fpga_space(tmp_path / "s.yaml", families=families), tiny_h5, out)) == 2
    from tagformer.export.fpga.variants import SUPPORTED

    err = capsys.readouterr().err
    assert "family 'pointnet' (model 'pointnet') has no FPGA variant" in err
    listed = err.split("models with one: ")[1].strip().split(", ")
    assert sorted(listed) == sorted(SUPPORTED) and {"deepsets", "transformer", "salt", "linformer"} <= set(listed)
    assert not out.exists()


def test_a_value_the_hardware_variant_refuses_is_refused(tiny_h5: Path, tmp_path: Path) -> None:
    families = {"deepsets": {"model": "deepsets_tiny", "params": {"phi_dims": [[4]], "pooling": ["sum", "mean"]}}}
    with pytest.raises(ConfigError, match=r"family 'deepsets'.*needs sum pooling"):
        run_search(fpga_space(tmp_path / "s.yaml", families=families), tiny_h5, trials=1, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_every_choice_value_is_built_by_validation(tmp_path: Path) -> None:
    from tagformer.search.candidate import variations

    space = load_space(fpga_space(tmp_path / "s.yaml", families={"deepsets": {"model": "deepsets_tiny", "params": {
        "phi_dims": [[4], [8], [12], [16]], "rho_dims": [[4], [8], [12]], "pooling": "sum"}}}))
    seen = {k: {str(c.params[k]) for c in variations(space)} for k in ("phi_dims", "rho_dims")}
    assert seen == {"phi_dims": {"[4]", "[8]", "[12]", "[16]"}, "rho_dims": {"[4]", "[8]", "[12]"}}


@pytest.mark.parametrize(("fpga", "message"), [
    ({"bits": 40}, "bad fpga.bits"),
    ({"clock": 300}, "bad fpga.clock"),
    ({"clock_mhz": 0}, "bad fpga.clock_mhz"),
])
def test_bad_fpga_settings(tmp_path: Path, fpga: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_space(fpga_space(tmp_path / "s.yaml", fpga=fpga))


def test_packaged_fpga_space_passes_validation(tiny_h5: Path) -> None:
    from tagformer.export.fpga.variants import SUPPORTED
    from tagformer.search.fpga import model_name
    from tagformer.search.run import check_space

    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    space = load_space("fpga")
    assert {"fpga_lut", "fpga_latency_ns"} <= set(space.objectives)
    assert {model_name(f.model) for f in space.families} == {"deepsets", "transformer", "salt", "linformer"}
    assert {model_name(f.model) for f in space.families} <= set(SUPPORTED)
    assert space.run["data"]["num_particles"] == 16  # the references are traced at N = 16 too
    check_space(space, str(tiny_h5))  # every family's variant builds at every choice value


@pytest.fixture(scope="module")
def fpga_search(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    root = tmp_path_factory.mktemp("fpga_search")
    space = fpga_space(root / "space.yaml", constraints=[LATENCY, PARAMS])
    paths = run_search(space, tiny_h5, trials=3, out_dir=root / "out", log=lambda s: None)
    study = optuna.load_study(study_name="tiny", storage=default_storage(root / "out"))
    return {"space": space, "out": root / "out", "paths": paths, "trials": study.get_trials()}


def test_search_records_lut_and_latency_of_each_trained_tagger(fpga_search: dict[str, Any]) -> None:
    trials = fpga_search["trials"]
    assert len(trials) == 3 and all(t.state.name == "COMPLETE" for t in trials)
    trained = [t for t in trials if t.user_attrs["trained"]]
    assert trained, "the seed-0 draws should train at least one candidate"
    for t in trained:
        m, record = t.user_attrs["metrics"], t.user_attrs["fpga"]
        assert math.isfinite(m["fpga_lut"]) and m["fpga_lut"] > 0
        assert math.isfinite(m["fpga_latency_ns"]) and m["fpga_latency_ns"] > 0
        assert t.values[1] == m["fpga_lut"] == record["luts"]  # the objective is the estimate
        assert record["bits"] == 6 and record["particles"] == 8 and record["trace_seconds"] > 0
        assert m["fpga_latency_ns"] == math.ceil(record["adder_stages"] / 4) * 5.0  # 4 stages per 5 ns cycle
    rows = list(csv.DictReader(open(fpga_search["paths"]["csv"], newline="")))
    assert {"fpga_lut", "fpga_latency_ns", "fpga_trace_s", "fpga_adder_stages"} <= set(rows[0])
    assert "FPGA metrics: the trained weights as a uniform 6-bit" in fpga_search["paths"]["table"].read_text()


def test_recorded_lut_is_the_hardware_path_estimate_of_the_trained_weights(fpga_search: dict[str, Any]) -> None:
    """Recompute one trial's figure with the export API directly, from its run directory."""
    from tagformer.data.datamodule import JetDataModule
    from tagformer.export.fpga.cost import estimate
    from tagformer.export.fpga.emulate import trace_circuit
    from tagformer.export.fpga.qat import calibrate, collect
    from tagformer.export.fpga.variants import hardware_variant
    from tagformer.rundir import load_run

    t = next(t for t in fpga_search["trials"] if t.user_attrs["trained"])
    run = load_run(t.user_attrs["run_dir"])
    hw = hardware_variant(run.model, "deepsets")
    dm = JetDataModule(run.data_config, normaliser_state=run.normaliser_state)
    jets, _ = collect(dm.train_dataloader(), run.model, 2000)
    circuit = trace_circuit(hw, calibrate(hw, jets, 6, 8), 8, jets[0].shape[-1])
    assert estimate(circuit)["luts"] == t.user_attrs["metrics"]["fpga_lut"]


def test_latency_constraint_is_an_optuna_constraint_set_after_the_fpga_stage(fpga_search: dict[str, Any]) -> None:
    trials = fpga_search["trials"]
    for t in trials:
        m = t.user_attrs["metrics"]
        if t.user_attrs["trained"]:
            lat = m["fpga_latency_ns"]
            assert t.constraints[LATENCY] == pytest.approx((lat - 40) / 40)
            assert t.user_attrs["feasible"] == (lat <= 40 and m["params"] <= 200)
        else:  # refused by the params constraint before training: its latency was never measured
            assert m["params"] > 200 and "fpga_lut" not in m and "fpga" not in t.user_attrs
            assert t.user_attrs["constraints"][LATENCY] is None and t.constraints[LATENCY] == 0.0
            assert t.user_attrs["feasible"] is False
    assert any(not t.user_attrs["trained"] for t in trials), "the seed-0 draws should include a 221-parameter one"
    pareto = [t for t in trials if t.number in fpga_search["paths"]["pareto"]]
    assert all(t.user_attrs["feasible"] for t in pareto)


def test_pruning_is_off_with_an_fpga_objective(fpga_search: dict[str, Any], tiny_h5: Path) -> None:
    from tagformer.search.trial import TrialRunner

    runner = TrialRunner(load_space(fpga_search["space"]), str(tiny_h5), fpga_search["out"], prune=True)
    assert runner._callback(None, {}) is None  # a running trial's LUTs are unknown: none can be dominated


def test_fpga_acc_is_the_calibrated_fixed_point_accuracy_without_tracing(fpga_search: dict[str, Any]) -> None:
    from tagformer.search.fpga import fpga_metrics
    from tagformer.search.objectives import FpgaSettings

    t = next(t for t in fpga_search["trials"] if t.user_attrs["trained"])
    values, record = fpga_metrics(t.user_attrs["run_dir"], ["fpga_acc"], FpgaSettings(bits=6, accuracy_jets=15))
    assert set(values) == {"fpga_acc"} and 0.0 <= values["fpga_acc"] <= 1.0
    assert record["accuracy_jets"] == 15 and "trace_seconds" not in record  # no circuit needed for it
    assert values["fpga_acc"] * 15 == pytest.approx(round(values["fpga_acc"] * 15))
