"""Training progress written to a log file (stdout not a terminal): plain lines, no carriage returns."""

from __future__ import annotations

from tinydata import TINY_OVERRIDES, write_tiny_hls4ml

from tagformer.cli.main import main


def test_training_progress_in_a_log_file_is_plain_lines(tmp_path, capsys):
    data = write_tiny_hls4ml(tmp_path / "tiny.h5")
    overrides = [o for o in TINY_OVERRIDES if o != "trainer.progress=false"]
    assert main(["train", "--model", "transformer_tiny", "--data", str(data), "--run-dir", str(tmp_path / "run"),
                 *overrides, "trainer.progress=true", "trainer.max_epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = [ln for ln in out.splitlines() if ln.startswith("[train]")]
    assert lines[0].startswith("[train] epoch 1/2 started (")
    done = [ln for ln in lines if " done in " in ln]
    assert len(done) == 2 and "jets/s" in done[0] and "val_loss" in done[0] and done[1].startswith("[train] epoch 2/2")
