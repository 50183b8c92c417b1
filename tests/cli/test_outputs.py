"""evaluate / compare / export: what a row was measured on, files the user made, devices and outputs that fail.

End to end through the command line on one tiny trained run; files are compared byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from test_train_safety import one_error_line, snapshot, train_argv
from tinydata import write_tiny_hls4ml

from tagformer.cli.main import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("outputs") / "tiny.h5")


@pytest.fixture(scope="module")
def evaluated(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("evaluated") / "run"
    assert main(train_argv(tiny, run)) == 0
    assert main(["evaluate", str(run), "--no-plots"]) == 0
    return run


def _copy(run: Path, where: Path) -> Path:
    shutil.copytree(run, where)
    return where


def test_compare_keeps_splits_and_datasets_apart(evaluated: Path, tiny: Path, tmp_path: Path, capsys):
    runs = tmp_path / "runs"
    on_test = _copy(evaluated, runs / "seed0")
    on_train = _copy(evaluated, runs / "seed1")
    on_copy = _copy(evaluated, runs / "seed2")
    assert main(["evaluate", str(on_train), "--split", "train", "--no-plots"]) == 0
    copy = tmp_path / "elsewhere" / "tiny_copy.h5"
    copy.parent.mkdir()
    shutil.copyfile(tiny, copy)
    assert main(["evaluate", str(on_copy), "--data", str(copy), "--no-plots"]) == 0
    capsys.readouterr()
    recorded = {r.name: json.loads((r / "metrics.json").read_text())["evaluated_on"] for r in (on_test, on_train,
                                                                                            on_copy)}
    assert [recorded[n]["split"] for n in ("seed0", "seed1", "seed2")] == ["test", "train", "all"]
    assert "carved by hash: data.seed 0" in recorded["seed0"]["split_definition"]
    fingerprints = {v["dataset"]["fingerprint"] for v in recorded.values()}
    assert len(fingerprints) == 1  # same content (a copy elsewhere too), so the split is what differs

    assert main(["compare", str(runs)]) == 0
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if line.startswith("| transformer_tiny")]
    assert len(rows) == 3  # never averaged into one row
    assert {row.split("|")[3].strip() for row in rows} == {"1"}  # one seed per row
    cells = sorted(row.rstrip(" |").rsplit("|", 1)[1].strip() for row in rows)
    carved = "(carved by hash: data.seed 0, val_fraction 0.1, test_fraction 0.1)"
    short = next(iter(fingerprints))[:8]
    assert cells == [f"all of tiny_copy.h5 [{short}]", f"test of tiny.h5 {carved} [{short}]",
                     f"train of tiny.h5 {carved} [{short}]"]
    assert "evaluated on different data" in captured.err

    assert main(["compare", str(on_test)]) == 0  # one evaluation set: no warning
    assert "warning" not in capsys.readouterr().err


def test_compare_csv_and_plots_never_replace_the_users_files(evaluated: Path, tmp_path: Path, capsys):
    h5 = tmp_path / "x.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    before = snapshot(tmp_path)
    assert main(["compare", str(evaluated), "--csv", str(h5)]) == 2
    assert "was not written by this command; pass --overwrite" in one_error_line(capsys)
    assert snapshot(tmp_path) == before
    own = tmp_path / "table.csv"
    assert main(["compare", str(evaluated), "--csv", str(own)]) == 0
    assert main(["compare", str(evaluated), "--csv", str(own)]) == 0  # its own output: replaced
    assert main(["compare", str(evaluated), "--csv", str(h5), "--overwrite"]) == 0
    assert h5.read_text().startswith("name,model,num_particles,seeds")

    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "accuracy_vs_params.png").write_bytes(b"my own figure")
    capsys.readouterr()
    assert main(["compare", str(evaluated), "--plot", str(plots)]) == 2
    assert "accuracy_vs_params.png exists and was not written" in one_error_line(capsys)
    assert (plots / "accuracy_vs_params.png").read_bytes() == b"my own figure"
    assert list(plots.iterdir()) == [plots / "accuracy_vs_params.png"]
    assert main(["compare", str(evaluated), "--plot", str(plots), "--overwrite"]) == 0
    from tagformer.eval.plots import is_own_png

    written = sorted(plots.glob("*.png"))  # a rerun without --overwrite may replace them all
    assert len(written) == 4 and all(is_own_png(p) for p in written)
    assert main(["compare", str(evaluated), "--plot", str(h5)]) == 2
    assert "exists and is not a directory" in one_error_line(capsys)


def test_outputs_on_a_read_only_file_system(evaluated: Path, tmp_path: Path, monkeypatch, capsys):
    run = _copy(evaluated, tmp_path / "run")
    before = snapshot(run)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(tmp_path))
                        else real_access(p, mode, **kw))  # as on a read-only mount (we may run as root)
    for argv in (["evaluate", str(run)], ["compare", str(run), "--csv", str(tmp_path / "c.csv")],
                 ["compare", str(run), "--plot", str(tmp_path / "plots")],
                 ["export", str(run), "--onnx", "--out", str(tmp_path / "onnx")]):
        assert main(argv) == 2, argv
        assert "not writable (read-only file system or no write permission)" in one_error_line(capsys)
    assert snapshot(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("command", ["evaluate", "export", "compare"])
def test_a_corrupt_summary_is_one_line(evaluated: Path, tmp_path: Path, command: str, capsys):
    run = _copy(evaluated, tmp_path / "run")
    for garbage in (b"{not json", b"\xff\xfe\x00", b"[1, 2, 3]"):
        (run / "summary.json").write_bytes(garbage)
        argv = {"evaluate": ["evaluate", str(run)], "export": ["export", str(run), "--onnx"],
                "compare": ["compare", str(run)]}[command]
        assert main(argv) == 2
        assert "summary.json (training summary)" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "{run}", "--device", "foo"], "--device 'foo' is not a device"),
        (["evaluate", "{run}", "--device", "cuda:x"], "is not a device"),
        (["export", "{run}", "--onnx", "--threads", "-3"], "--threads must be >= 1, got -3"),
        (["export", "{run}", "--onnx", "--out", "{file}"], "exists and is not a directory"),
        (["evaluate", "{run}", "--split", "val", "--data", "{missing}"], "does not exist"),
    ],
)
def test_bad_devices_and_outputs_are_one_line(evaluated: Path, tmp_path: Path, argv, needle: str, capsys):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    args = [a.format(run=evaluated, file=afile, missing=tmp_path / "missing.h5") for a in argv]
    before = snapshot(evaluated)
    assert main(args) == 2
    assert needle in one_error_line(capsys)
    assert snapshot(evaluated) == before and afile.read_text() == "mine"


def test_cuda_without_a_gpu(evaluated: Path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["evaluate", str(evaluated), "--device", "cuda"]) == 2
    assert "no CUDA device is available" in one_error_line(capsys)
