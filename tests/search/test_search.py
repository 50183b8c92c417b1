"""A 6-trial search over two families on tiny data: trials, constraints, references, report, Pareto YAMLs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from search_helpers import TINY_SPACE, write_space

from tagformer.cli.main import main
from tagformer.rundir import RunDir
from tagformer.search import run_search
from tagformer.search.study import default_storage

optuna = pytest.importorskip("optuna", minversion="5.0")  # the search extra

TRIALS = 6


@pytest.fixture(scope="module")
def search(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One finished search: 6 trials, a FLOPs constraint that some candidates break, one reference."""
    root = tmp_path_factory.mktemp("search")
    space = write_space(root / "space.yaml", constraints=["flops <= 30000"], references=["deepsets_tiny"])
    lines: list[str] = []
    paths = run_search(space, tiny_h5, trials=TRIALS, out_dir=root / "out", log=lines.append)
    study = optuna.load_study(study_name="tiny", storage=default_storage(root / "out"))
    return {"out": root / "out", "paths": paths, "study": study, "lines": lines}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_six_trial_search_over_two_families_completes(search: dict[str, Any]) -> None:
    trials = search["study"].get_trials()
    assert len(trials) == TRIALS
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert {t.user_attrs["family"] for t in trials} == {"transformer", "deepsets"}
    rows = _rows(search["paths"]["csv"])
    assert [int(r["trial"]) for r in rows] == list(range(TRIALS))
    assert {"val_acc", "flops", "params", "parameters", "run_dir", "family", "pareto"} <= set(rows[0])
    for t in trials:
        assert "flops" in t.user_attrs["metrics"] and "params" in t.user_attrs["metrics"]
        if t.user_attrs["trained"] and not t.user_attrs.get("duplicate_of"):
            run = RunDir(t.user_attrs["run_dir"])
            assert run.is_finished()  # every trial's run directory is kept
            summary = json.loads(run.summary.read_text())
            assert summary["flops_per_jet"] == pytest.approx(t.user_attrs["metrics"]["flops"])
            assert summary["params"] == t.user_attrs["metrics"]["params"]
            assert summary["val"]["val_acc"] == pytest.approx(t.values[0])
    assert len(search["lines"]) == 1 + 1 + TRIALS  # a header, the reference, one line per trial


def test_constraints_are_optuna_constraints_and_infeasible_candidates_are_not_trained(search: dict[str, Any]) -> None:
    trials = search["study"].get_trials()
    for t in trials:
        flops = t.user_attrs["metrics"]["flops"]
        assert t.constraints["flops <= 30000"] == pytest.approx((flops - 30000) / 30000)
        assert t.user_attrs["feasible"] == (flops <= 30000)
        if not t.user_attrs["feasible"]:
            assert not t.user_attrs["trained"] and t.values[0] == float("-inf")
            assert not Path(t.user_attrs["run_dir"]).exists()
    assert any(not t.user_attrs["feasible"] for t in trials), "the constraint should rule out some candidates"
    pareto = [t for t in trials if t.number in search["paths"]["pareto"]]
    assert pareto and all(t.user_attrs["feasible"] for t in pareto)


def test_reference_preset_is_trained_at_the_same_budget(search: dict[str, Any]) -> None:
    ref = search["study"].user_attrs["reference:deepsets_tiny"]
    summary = json.loads(RunDir(ref["run_dir"]).summary.read_text())
    assert summary["preset"] == "deepsets_tiny" and summary["epochs_completed"] == 2
    assert ref["metrics"]["val_acc"] == pytest.approx(summary["val"]["val_acc"])
    assert "deepsets_tiny" in search["paths"]["table"].read_text()


def test_report_is_redrawn_from_the_storage(search: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = search["out"]
    before = search["paths"]["csv"].read_text()
    for path in [search["paths"]["csv"], search["paths"]["table"], *search["paths"]["plots"]]:
        path.unlink()
    assert main(["search", "--report", str(out)]) == 0
    assert search["paths"]["csv"].read_text() == before
    assert search["paths"]["table"].exists() and all(p.exists() for p in search["paths"]["plots"])
    assert (out / "pareto_val_acc_vs_flops.png").stat().st_size > 1000
    assert "Pareto trials" in capsys.readouterr().out


def test_a_pareto_yaml_trains_with_tagformer_train(search: dict[str, Any], tmp_path: Path) -> None:
    yamls = search["paths"]["yamls"]
    assert len(yamls) == len(search["paths"]["pareto"]) >= 1
    path = yamls[0]
    number = int(path.stem.split("-")[1])
    trial = search["study"].trials[number]
    run_dir = tmp_path / "retrain"
    assert main(["train", "--config", str(path), "--run-dir", str(run_dir)]) == 0
    summary = json.loads(RunDir(run_dir).summary.read_text())
    config = yaml.safe_load(path.read_text())
    assert summary["model_overrides"] == {k: v for k, v in config["model"].items() if k != "name"}
    assert summary["model"] == trial.user_attrs["model"].split("_")[0]
    assert summary["flops_per_jet"] == pytest.approx(trial.user_attrs["metrics"]["flops"])
    # the same config, seed and data train the same model: the search's number is reproduced
    assert summary["val"]["val_acc"] == pytest.approx(trial.values[0], abs=1e-6)


def test_pruning_stops_dominated_trials(tiny_h5: Path, tmp_path: Path) -> None:
    """The harness takes the search's pruning callback (``train(..., extra_callbacks=[...])``): trials worse than
    a finished one at the same epoch stop early and keep their partial result."""
    from tagformer.search.pruning import harness_takes_callbacks

    assert harness_takes_callbacks()
    run = {**TINY_SPACE["run"], "trainer": {**TINY_SPACE["run"]["trainer"], "max_epochs": 3}}
    space = write_space(tmp_path / "space.yaml", objectives=["val_acc"], run=run,
                        pruning={"monitor": "val_acc", "warmup_epochs": 0, "dominated_by": 1})
    run_search(space, tiny_h5, trials=6, out_dir=tmp_path / "out", report=False, log=lambda s: None)
    trials = optuna.load_study(study_name="tiny", storage=default_storage(tmp_path / "out")).get_trials()
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned, "no trial was pruned"
    for t in pruned:
        summary = json.loads(RunDir(t.user_attrs["run_dir"]).summary.read_text())
        assert summary["epochs_completed"] == t.user_attrs["pruned_at"] + 1 < 3
        assert "val_acc" in t.user_attrs["metrics"]  # its partial result is kept in the study
    complete = [t for t in trials if t.state.name == "COMPLETE" and not t.user_attrs.get("duplicate_of")]
    assert all(t.user_attrs["epochs"] == 3 for t in complete)


def test_r08_objective_is_the_evaluation_metric_on_the_validation_split(slow_h5: Path, tmp_path: Path) -> None:
    from tagformer.config import build_config
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.search.candidate import flatten
    from tagformer.search.objectives import rejection_at_08
    from tagformer.train.run import train

    budget = [f"{k}={json.dumps(v)}" for k, v in flatten(TINY_SPACE["run"]).items()]
    weak = ["trainer.max_epochs=1", "model.num_layers=1", "model.dim=8"]  # no class perfectly separated
    run_dir = tmp_path / "run"
    train(build_config(model="transformer_tiny", data=str(slow_h5), overrides=[*budget, *weak]), run_dir)
    expected = evaluate_run(run_dir, split="val", plots=False)["rejection_average"]["0.8"]
    assert expected is not None and expected > 1
    assert rejection_at_08(run_dir) == pytest.approx(expected)


def test_cost_metrics_are_the_bench_figures(tiny_h5: Path) -> None:
    from tagformer.bench.flops import count_params, model_flops_per_jet
    from tagformer.models import create_model
    from tagformer.search.objectives import MeasureSettings, cost_metrics

    model = create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=16, num_layers=1)
    measure = MeasureSettings(batch=1, throughput_batch=8, warmup=0, repeats=2, budget_s=0.1)
    got = cost_metrics(model, ["latency_ms", "throughput"], in_features=3, num_particles=16, measure=measure)
    assert got["flops"] == model_flops_per_jet(model, in_features=3, num_particles=16)
    assert got["params"] == count_params(model)
    assert got["latency_ms"] > 0 and got["throughput"] > 0
