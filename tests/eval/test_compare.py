from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tagformer.errors import TagformerError
from tagformer.eval.compare import compare_runs, join_profile, to_csv, to_markdown
from tagformer.eval.plots import pareto_front


def _fake_run(root: Path, preset: str, seed: int, acc: float, rej: float, flops: float, params: int) -> Path:
    run = root / f"{preset}-seed{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "summary.json").write_text(json.dumps({"model": preset.split("_")[0], "preset": preset, "params": params,
                                                  "flops_per_jet": flops, "num_particles": 64,
                                                  "epochs_completed": 3}))
    (run / "metrics.json").write_text(json.dumps({
        "accuracy": acc, "auc_macro": 0.9, "split": "test",
        "rejection": {"w": {"0.8": rej}, "z": {"0.8": rej}, "t": {"0.8": rej}},
        "rejection_average": {"0.8": rej}}))
    return run


def test_groups_seeds_into_mean_and_std(tmp_path: Path):
    runs = [_fake_run(tmp_path, "a_small", s, acc, 10.0 + s, 1e6, 5000) for s, acc in enumerate((0.7, 0.8, 0.9))]
    runs.append(_fake_run(tmp_path, "b_small", 0, 0.6, 5.0, 1e5, 1000))
    rows = compare_runs(runs)
    assert [r["name"] for r in rows] == ["b_small", "a_small"]  # sorted by FLOPs
    a = rows[1]
    assert a["seeds"] == 3
    assert a["accuracy"] == pytest.approx(0.8) and a["accuracy_std"] == pytest.approx(np.std([0.7, 0.8, 0.9], ddof=1))
    assert a["rejection"] == pytest.approx(11.0) and a["rejection_label"] == "R0.8_avg"
    md = to_markdown(rows)
    assert "| a_small | 64 | 3 | 5,000 | 1.000M | 0.8 ± 0.1 |" in md
    assert to_csv(rows).splitlines()[0].startswith("name,model,num_particles,seeds")


def test_profile_join_adds_latency(tmp_path: Path):
    rows = compare_runs([_fake_run(tmp_path, "a_small", 0, 0.7, 10.0, 1e6, 5000)])
    profile = [{"model": "a", "preset": "a_small", "particles": "64", "batch": "1", "latency_ms_p50": "0.5",
                "latency_ms_p99": "0.9", "throughput_jets_s": "100"},
               {"model": "a", "preset": "a_small", "particles": "64", "batch": "1024", "latency_ms_p50": "20",
                "latency_ms_p99": "30", "throughput_jets_s": "5e4"}]
    joined = join_profile(rows, profile)[0]
    assert joined["latency_ms_p50"] == 0.5 and joined["throughput_jets_s"] == 5e4


def test_unevaluated_run_is_a_clear_error(tmp_path: Path):
    run = _fake_run(tmp_path, "a_small", 0, 0.7, 10.0, 1e6, 5000)
    (run / "metrics.json").unlink()
    with pytest.raises(TagformerError, match="tagformer evaluate"):
        compare_runs([run])
    with pytest.raises(TagformerError, match="does not exist"):
        compare_runs([tmp_path / "missing"])


def test_pareto_front():
    cost = np.array([1.0, 2.0, 3.0, 4.0])
    score = np.array([0.5, 0.4, 0.7, 0.7])
    assert pareto_front(cost, score).tolist() == [True, False, True, False]


def test_compare_cli_with_profile_and_plots(tmp_path: Path, capsys):
    from tagformer.cli.main import main

    runs = tmp_path / "runs"
    _fake_run(runs, "a_small", 0, 0.7, 10.0, 1e6, 5000)
    _fake_run(runs, "b_small", 0, 0.6, 5.0, 1e5, 1000)
    profile = tmp_path / "profile.csv"
    profile.write_text("model,preset,particles,batch,params,flops_per_jet,latency_ms_p50,latency_ms_p99,"
                       "throughput_jets_s\na,a_small,64,1,5000,1e6,0.5,0.9,100\nb,b_small,64,1,1000,1e5,0.2,0.3,900\n")
    plots = tmp_path / "plots"
    assert main(["compare", str(runs), "--profile", str(profile), "--plot", str(plots)]) == 0
    assert "| b_small | 64 | 1 |" in capsys.readouterr().out
    assert (plots / "accuracy_vs_latency_ms_p50.png").exists() and (plots / "rejection_vs_params.png").exists()
    assert (plots / "accuracy_vs_throughput_jets_s.png").exists()
    profile.write_text("model,batch\na,1\n")
    assert main(["compare", str(runs), "--profile", str(profile)]) == 2
    assert "lacks columns" in capsys.readouterr().err


def test_directory_of_runs_skips_unfinished_ones_but_named_runs_must_be_finished(tmp_path, capsys):
    from tagformer.cli.compare import expand_runs
    from tagformer.errors import TagformerError

    done, training = tmp_path / "a-seed0", tmp_path / "b-seed0"
    for run in (done, training):
        (run / "checkpoints").mkdir(parents=True)  # what `tagformer train` writes first
        (run / "config.yaml").write_text("seed: 0\n")
    (done / "summary.json").write_text("{}")
    (done / "metrics.json").write_text("{}")
    assert expand_runs([str(tmp_path)]) == [done]
    err = capsys.readouterr().err
    assert f"skipping {training}" in err and str(done) not in err
    assert expand_runs([str(training)]) == [training]  # named explicitly: compare_runs will refuse it
    (done / "metrics.json").unlink()
    with pytest.raises(TagformerError, match="no finished, evaluated run"):
        expand_runs([str(tmp_path)])


def test_costs_come_from_the_newest_run_and_a_disagreement_is_reported(tmp_path: Path):
    import os

    old = _fake_run(tmp_path, "a_small", 0, 0.7, 10.0, 3.1e5, 5000)
    new = _fake_run(tmp_path, "a_small", 1, 0.8, 11.0, 2.8e5, 5000)
    os.utime(old / "summary.json", (1_000_000, 1_000_000))  # trained long before the other seed
    warnings: list[str] = []
    (row,) = compare_runs([old, new], warn=warnings.append)
    assert row["flops_per_jet"] == 2.8e5 and row["params"] == 5000 and row["seeds"] == 2
    assert len(warnings) == 1 and "flops_per_jet differs" in warnings[0] and "310000.0" in warnings[0]
