"""``tagformer train`` never overwrites what it did not write, and a resume that cannot proceed changes nothing.

End to end through the command line (in process); run directories and the user's files are compared byte
for byte (and by modification time) before and after each refused command.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml

from tagformer.cli.main import main

OVERRIDES = [*TINY_OVERRIDES, "trainer.max_epochs=1"]


def train_argv(data: Path | str, run: Path | str, *extra: str) -> list[str]:
    """``tagformer train`` arguments: options first, then the dotted overrides (argparse wants them together)."""
    options, overrides, extra_list = [], [], list(extra)
    while extra_list:
        item = extra_list.pop(0)
        if item.startswith("--"):
            options += [item, extra_list.pop(0)]
        else:
            overrides.append(item)
    return ["train", "--model", "transformer_tiny", "--data", str(data), "--run-dir", str(run), *options,
            *OVERRIDES, *overrides]


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file (bytes, mtime) and directory (None) under ``root``."""
    return {str(p.relative_to(root)): ((p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("safety") / "tiny.h5")


@pytest.fixture(scope="module")
def finished(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-epoch run (copied by each test that breaks it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(train_argv(tiny, run)) == 0
    return run


@pytest.fixture
def run_copy(finished: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    return run


# -- a new run only in a new or empty directory ------------------------------------------------------------
def test_user_files_in_the_run_dir_are_never_overwritten(tiny: Path, tmp_path: Path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("# my own notes\nseed: 7\n")
    (mine / "metrics.csv").write_text("epoch,whatever\n0,1\n")
    before = snapshot(mine)
    assert main(train_argv(tiny, mine)) == 2
    assert "not empty and is not a tagformer run (config.yaml, metrics.csv)" in one_error_line(capsys)
    assert snapshot(mine) == before
    assert main([*train_argv(tiny, mine), "--resume"]) == 2  # not a run either
    one_error_line(capsys)
    assert snapshot(mine) == before


def test_config_in_the_current_directory_is_not_replaced(tiny: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(f"# my commented config\nmodel:\n  name: transformer_tiny\n"
                                          f"data:\n  path: {tiny}\n")
    before = snapshot(tmp_path)
    assert main(["train", "--config", "config.yaml", "--run-dir", ".", *TINY_OVERRIDES]) == 2
    assert "not empty" in one_error_line(capsys)
    assert snapshot(tmp_path) == before


def test_an_existing_run_needs_resume_and_an_empty_directory_is_fine(finished: Path, tiny: Path, tmp_path: Path,
                                                                     capsys):
    before = snapshot(finished)
    assert main(train_argv(tiny, finished)) == 2
    assert "already holds a run; pass --resume" in one_error_line(capsys)
    assert snapshot(finished) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(train_argv(tiny, empty)) == 0
    assert (empty / "summary.json").exists()


def test_a_failed_first_attempt_leaves_nothing_behind(tiny: Path, tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert main(train_argv(tmp_path / "typo.h5", run)) == 2
    assert "typo.h5" in one_error_line(capsys)
    assert not run.exists()  # nothing written before the data were read
    assert main(train_argv(tiny, run)) == 0  # the corrected command runs


def test_run_dir_that_is_a_file_or_not_writable(tiny: Path, tmp_path: Path, monkeypatch, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(train_argv(tiny, afile)) == 2
    assert "is a file" in one_error_line(capsys)
    assert main(train_argv(tiny, afile / "sub")) == 2
    assert "is a file, not a directory" in one_error_line(capsys)
    assert afile.read_text() == "keep me"
    readonly = tmp_path / "ro"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(readonly))
                        else real_access(p, mode, **kw))  # as on a read-only mount (we may run as root)
    assert main(train_argv(tiny, readonly / "run")) == 2
    assert "not writable (read-only file system or no write permission)" in one_error_line(capsys)
    assert list(readonly.iterdir()) == []


# -- a resume that cannot proceed changes nothing ------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["model.dim=32"], "model.dim=32 (was None)"),
        (["data.path={other}"], "data.path="),
        (["--data", "{other}"], "data.path="),
        (["optim.lr=0.5", "trainer.max_epochs=3"], "optim.lr=0.5"),
        (["seed=5"], "seed=5 (was 0)"),
    ],
)
def test_resume_refuses_changes_of_model_or_data_up_front(run_copy: Path, tmp_path: Path, extra, needle, capsys):
    other = write_tiny_hls4ml(tmp_path / "other.h5", seed=3)
    before = snapshot(run_copy)
    argv = ["train", "--run-dir", str(run_copy), "--resume", *[e.format(other=other) for e in extra]]
    assert main(argv) == 2
    err = one_error_line(capsys)
    assert needle in err and "only trainer.max_epochs, trainer.max_time_s" in err and "Nothing" in err
    assert snapshot(run_copy) == before
    assert main(["train", "--run-dir", str(run_copy), "--resume"]) == 0  # still resumable as it was


def test_resume_may_extend_training(run_copy: Path, capsys):
    assert main(["train", "--run-dir", str(run_copy), "--resume", "trainer.max_epochs=2", "trainer.patience=3"]) == 0
    assert "max_epochs: 2" in (run_copy / "config.yaml").read_text()
    assert torch.load(run_copy / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1


@pytest.mark.parametrize(
    ("file", "content", "needle"),
    [
        ("checkpoints/last.ckpt", b"", "not a readable checkpoint"),
        ("checkpoints/last.ckpt", b"garbage" * 10, "not a readable checkpoint"),
        ("checkpoints/last.ckpt", "truncate", "not a readable checkpoint"),
        ("normaliser.json", b'{"mean": [1', "normaliser.json (feature normalisation): the file is corrupt"),
        ("normaliser.json", b'{"feature_set": "ptetaphi", "feature_names": ["a"], "mean": [0], "std": [-1]}',
         "normaliser.json is corrupt"),
        ("wall_time.json", b"\xff\xfe", "wall_time.json (training wall time): the file is corrupt"),
        ("wall_time.json", b'{"wall_time_s": "soon"}', "wall_time.json is corrupt"),
        ("metrics.csv", b"epoch,step\nzero,5\n", "metrics.csv is corrupt (line 2"),
        ("metrics.csv", b"\x00\x01garbage", "metrics.csv"),
        ("dataset.json", b"[1, 2]", "dataset.json"),
        ("config.yaml", b"model: [1, 2\n", "not valid YAML"),
    ],
)
def test_resume_with_a_corrupt_run_file_is_one_line_and_changes_nothing(run_copy: Path, file: str, content,
                                                                         needle: str, capsys):
    path = run_copy / file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2] if content == "truncate" else content)
    before = snapshot(run_copy)
    assert main(["train", "--run-dir", str(run_copy), "--resume", "trainer.max_epochs=2"]) == 2
    assert needle in one_error_line(capsys)
    assert snapshot(run_copy) == before


def test_checkpoint_of_another_model_is_refused_before_writing(run_copy: Path, capsys):
    ckpt = run_copy / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"]["model.encoder.embed.weight"] = torch.zeros(5, 3)
    torch.save(state, ckpt)
    before = snapshot(run_copy)
    assert main(["train", "--run-dir", str(run_copy), "--resume", "trainer.max_epochs=2"]) == 2
    assert "do not fit the model config.yaml builds" in one_error_line(capsys)
    assert snapshot(run_copy) == before


# -- odd settings: one clear line, before anything is written -------------------------------------------------
def _bad_files(tmp: Path) -> dict[str, Path]:
    import h5py
    import numpy as np

    one_class = write_tiny_hls4ml(tmp / "one_class.h5")
    with h5py.File(one_class, "r+") as f:
        jets = f["jets"][...]
        jets[:, 3:] = np.eye(5, dtype=np.float32)[1]
        f["jets"][...] = jets
    huge = write_tiny_hls4ml(tmp / "huge.h5")
    with h5py.File(huge, "r+") as f:
        cons = f["jetConstituentList"][...]
        cons[:, 0, 5] = np.where(cons[:, 0, 5] > 0, 3e38, 0)  # pt of the leading particle
        f["jetConstituentList"][...] = cons
    (tmp / "data5.yaml").write_text("model:\n  name: transformer_tiny\ndata: 5\n")
    (tmp / "modellist.yaml").write_text("model: [transformer_tiny]\n")
    return {"one_class": one_class, "huge": huge, "data5": tmp / "data5.yaml", "modellist": tmp / "modellist.yaml"}


ODD = [
    (["model.dim=-4"], "argument dim must be a positive integer, got -4"),
    (["seed=-1"], "'seed'"),
    (["seed=18446744073709551616"], "less than or equal to 4294967295"),
    (["data.seed=-3"], "data.seed must be in [0, 4294967295]"),
    (["trainer.accelerator=foo"], "unknown accelerator 'foo'"),
    (["trainer.limit_train_batches=-2"], "trainer.limit_train_batches"),
    (["trainer.limit_val_batches=0"], "trainer.limit_val_batches"),
    (["trainer.limit_train_batches=0.001"], "leaves no train batch"),
    (["data.val_fraction=0"], "no validation split"),
    (["--data", "{one_class}"], "one class only ('q')"),
    (["--data", "{huge}"], "reaches 3e+38"),
    (["--config", "{data5}"], "config section 'data' in"),
    (["--config", "{modellist}"], "config section 'model' in"),
]


@pytest.mark.parametrize(("extra", "needle"), ODD, ids=[e[0] for e, _ in ODD])
def test_odd_settings_are_one_line_and_write_nothing(tiny: Path, tmp_path: Path, extra, needle: str, capsys):
    files = _bad_files(tmp_path) if any("{" in e for e in extra) else {}
    run = tmp_path / "run"
    argv = train_argv(tiny, run, *[e.format(**files) for e in extra])
    assert main(argv) == 2
    assert needle in one_error_line(capsys)
    assert not run.exists()


def test_deepsets_zero_width_and_gpu_without_one(tiny: Path, tmp_path: Path, capsys):
    argv = ["train", "--model", "deepsets", "--data", str(tiny), "--run-dir", str(tmp_path / "r"), "model.phi_dims=[0]"]
    assert main(argv) == 2
    assert "phi_dims must be a list of positive integers" in one_error_line(capsys)
    if not torch.cuda.is_available():
        assert main(train_argv(tiny, tmp_path / "g", "trainer.accelerator=gpu")) == 2
        assert "no CUDA GPU is available" in one_error_line(capsys)
    assert not (tmp_path / "r").exists() and not (tmp_path / "g").exists()


def test_disk_full_while_training_is_one_line(tiny: Path, tmp_path: Path, monkeypatch, capsys):
    import tagformer.train.callbacks as callbacks

    def full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(callbacks, "atomic_torch_save", full)
    assert main(train_argv(tiny, tmp_path / "run")) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after Lightning's own log lines
    assert last.startswith("error: cannot write ") and "last.ckpt: No space left on device" in last


def test_troubleshooting_page_names_every_resumable_key_and_is_linked():
    from tagformer.train.resume import RESUMABLE_KEYS

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "troubleshooting.md").read_text()
    assert all(f"`{key}`" in page for key in RESUMABLE_KEYS)
    assert "(docs/troubleshooting.md)" in (root / "README.md").read_text()
    assert "data.md#when-generation-goes-wrong" in page
