"""The plot loop with a fake LLM: an error is fed back and the next attempt makes a real PNG whose
histogram equals a reference; writes outside the scratch directory and overlong runs are stopped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from assist_fakes import FakeClient

from tagformer.assist.llm import LLM, LLMSettings
from tagformer.assist.packaged import PackagedModel
from tagformer.assist.plot import error_summary, extract_code, hint_texts, plot_loop
from tagformer.cli.main import main
from tagformer.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tinydata import write_tiny_hls4ml

BROKEN = "```python\nimport numpy as np\nprint(undefined_name)\n```"
WORKING = '''Here is the fixed script:
```python
import json, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from tagformer.data import detect_format, read_files, resolve_files
from tagformer.kinematics import pt

files = resolve_files(os.environ["TAGFORMER_PLOT_DATA"])
arrays = read_files(files, detect_format(files))
jet_pt = pt((arrays.p4 * arrays.mask[..., None]).sum(1))
counts, edges = np.histogram(jet_pt, bins=20, range=(40, 1000))
fig, ax = plt.subplots()
mplhep.histplot(counts, edges, ax=ax)
ax.set_xlabel("jet pT [GeV]")
fig.savefig("plot.png", dpi=80)
json.dump({"edges": edges.tolist(), "counts": counts.tolist()}, open("histogram.json", "w"))
```'''


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("d") / "tiny.h5", jets_per_class=20)


def _llm(replies) -> tuple[LLM, FakeClient]:
    client = FakeClient(replies)
    return LLM(client=client, model="fake", settings=LLMSettings(model="fake")), client


def _reference(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        cons = f["jetConstituentList"][:]
    px, py = cons[..., 0].sum(1), cons[..., 1].sum(1)
    return np.histogram(np.hypot(px, py), bins=20, range=(40, 1000))[0]


def test_error_is_fed_back_and_the_next_attempt_plots(data, tmp_path) -> None:
    llm, client = _llm([BROKEN, WORKING])
    out = tmp_path / "out"
    result = plot_loop("jet pT from 40 to 1000 GeV", data, llm, out, attempts=3, timeout_s=120, log=lambda _: None)
    assert result.ok and result.attempts == 2 and len(client.calls) == 2
    feedback = client.calls[1]["messages"][-1]["content"]
    assert "NameError" in feedback and "undefined_name" in feedback
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hist = json.loads((out / "histogram.json").read_text())
    assert hist["counts"] == _reference(data).tolist() and sum(hist["counts"]) > 0
    assert "print(undefined_name)" in (out / "attempt-1.py").read_text()
    assert "histplot" in (out / "plot.py").read_text()
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["ok"] and [r["returncode"] for r in transcript["runs"]] == [1, 0]
    system = client.calls[0]["messages"][0]["content"]
    assert "jetConstituentList" in system and "TAGFORMER_PLOT_DATA" in system


def test_writing_outside_scratch_and_overlong_runs_are_stopped(data, tmp_path) -> None:
    target = tmp_path / "escaped.txt"
    escape = f"```python\nopen({str(target)!r}, 'w').write('x')\n```"
    slow = "```python\nimport time\ntime.sleep(60)\n```"
    spawn = "```python\nimport subprocess\nsubprocess.run(['true'])\n```"
    llm, _ = _llm([escape, slow, spawn])
    result = plot_loop("anything", data, llm, tmp_path / "out", attempts=3, timeout_s=3, log=lambda _: None)
    assert not result.ok and result.attempts == 3 and not target.exists()
    runs = json.loads((tmp_path / "out" / "transcript.json").read_text())["runs"]
    assert "only write inside its scratch directory" in runs[0]["error"]
    assert runs[1]["timed_out"] and "time limit of 3 s" in runs[1]["error"] and runs[1]["seconds"] < 20
    assert "may not start processes" in runs[2]["error"]


def test_hints_and_code_extraction() -> None:
    names = [n for n, _ in hint_texts()]
    assert names == ["01_contract.md", "02_hls4ml_layout.md", "03_tagformer_api.md"]
    assert extract_code("text\n```python\nx = 1\n```\nmore") == "x = 1\n"
    assert extract_code("x = 2") == "x = 2\n"
    assert extract_code("```python\nx = 3\ny = (") == "x = 3\ny = (\n"  # cut by the token limit: runs to the end
    traceback = "the script failed (exit status 1):\nTraceback (most recent call last):\n  File x\nNameError: name 'j'"
    assert error_summary(traceback) == "the script failed (exit status 1): NameError: name 'j'"


def test_plot_needs_an_llm_and_a_request(data, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("TAGFORMER_LLM_MODEL", raising=False)
    monkeypatch.setattr(PackagedModel, "path", lambda self: None)  # no embedded model installed
    assert main(["assist", "plot", "jet pT", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "needs an LLM" in capsys.readouterr().err
    assert main(["assist", "plot", " ", "--data", str(data)]) == 2
    assert "request is empty" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="empty"):
        plot_loop("", data, _llm(["x"])[0], tmp_path / "o")


def test_cli_plot_with_an_endpoint(data, tmp_path, capsys, monkeypatch) -> None:
    import tagformer.cli.assist as cli

    monkeypatch.setattr(cli, "_llm", lambda args, cache, **_: _llm([WORKING])[0])
    out = tmp_path / "o"
    assert main(["assist", "plot", "jet pT", "--data", str(data), "--out", str(out), "--llm", "fake"]) == 0
    assert "made plot after 1 attempt(s)" in capsys.readouterr().out and (out / "plot.png").is_file()
