"""docs/architecture.md's regression-head example runs, stays under 30 lines and learns."""

from __future__ import annotations

import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _example() -> str:
    text = DOC.read_text()
    section = text[text.index("## Example: a regression head"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_example_is_short():
    lines = [ln for ln in _example().splitlines() if ln.strip() and not ln.startswith(("import ", "from "))]
    assert len(lines) < 30, f"{len(lines)} lines of code besides imports"


def test_example_runs_and_the_regression_head_learns():
    scope: dict = {}
    exec(compile(_example(), str(DOC), "exec"), scope)
    tagger, batch, tasks = scope["tagger"], scope["batch"], scope["tasks"]
    reg = tasks[1]
    with torch.no_grad():
        outputs = tagger.forward_heads(batch)
    assert set(outputs) == {"classification", "mean_f0"}
    assert outputs["classification"].shape == (64, 5) and outputs["mean_f0"].shape == (64, 1)
    target = batch.targets["mean_f0"]
    baseline = (target - target.mean()).abs().mean()
    assert float(reg.metrics(outputs["mean_f0"], batch)["mae"]) < 0.5 * float(baseline)
