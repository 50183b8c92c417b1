"""Copies of the run directories frozen before the encoder/heads split (tests/fixtures/legacy_runs/).

Those runs were trained on ``tinydata.write_tiny_hls4ml(seed=0)`` at a path that no longer exists; a copy
gets the same file re-created (same seed, hence the same jets) and its ``config.yaml`` pointed at it, so
``evaluate`` draws the same test split as when ``expected_metrics.json`` was written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

LEGACY_RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_runs"
NAMES = sorted(p.name for p in LEGACY_RUNS.iterdir() if p.is_dir())


def copy_legacy_run(name: str, dest: Path, data: Path) -> Path:
    """``legacy_runs/<name>`` copied to ``dest`` with ``data.path`` set to ``data``."""
    shutil.copytree(LEGACY_RUNS / name, dest)
    config = yaml.safe_load((dest / "config.yaml").read_text())
    config["data"]["path"] = str(data)
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def expected_metrics(name: str) -> dict:
    return json.loads((LEGACY_RUNS / name / "expected_metrics.json").read_text())
