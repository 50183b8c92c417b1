"""benchmarks/pretrain_ablation.py, the script behind docs/pretraining.md's measured table: the split keeps
fine-tuning and pretraining jets disjoint (and the q/g pool q/g only), the table averages seeds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pretrain_ablation.py"


def _script():
    spec = importlib.util.spec_from_file_location("pretrain_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    with h5py.File(path) as f:
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in f["jetFeatureNames"][:]]
        cols = [names.index(c) for c in ("j_g", "j_q", "j_w", "j_z", "j_t")]
        return f["jets"][:, cols].argmax(1), f["jetConstituentList"][:, 0, 5]


def test_split_is_disjoint_and_keeps_what_exists(tiny_h5: Path, tmp_path: Path) -> None:
    script = _script()
    script.split(tiny_h5, tmp_path, finetune_jets=50)
    labels, lead_pt = _labels(tiny_h5)
    ft_labels, ft_pt = _labels(tmp_path / "finetune.h5")
    pool_labels, pool_pt = _labels(tmp_path / "pool.h5")
    qg_labels, qg_pt = _labels(tmp_path / "pool_qg.h5")
    assert len(ft_labels) == 50 and len(pool_labels) == len(labels) - 50
    np.testing.assert_array_equal(ft_pt, lead_pt[:50])
    np.testing.assert_array_equal(pool_pt, lead_pt[50:])
    assert set(qg_labels.tolist()) <= {0, 1} and len(qg_labels) == int((labels[50:] <= 1).sum()) > 0
    np.testing.assert_array_equal(qg_pt, lead_pt[50:][labels[50:] <= 1])
    before = (tmp_path / "pool.h5").stat().st_mtime_ns
    script.split(tiny_h5, tmp_path, finetune_jets=10)  # existing files are kept, never rewritten
    assert (tmp_path / "pool.h5").stat().st_mtime_ns == before and len(_labels(tmp_path / "finetune.h5")[0]) == 50


def test_table_averages_seeds_and_the_plot_is_written(tmp_path: Path) -> None:
    rows = [{"model": "phat_small", "start": start, "mode": "finetune", "fraction": frac, "seed": seed,
             "accuracy": acc + 0.01 * seed, "r08": 2.0, "seconds": 1.0}
            for start, acc in (("scratch", 0.3), ("mpm", 0.4)) for frac in (0.01, 1.0) for seed in range(3)]
    rows.append({**rows[0], "accuracy": 0.9})  # an earlier line of the same run is replaced by the last one
    rows[0]["accuracy"] = 0.0
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = _script()
    text = script.table(tmp_path)
    mpm = next(line for line in text.splitlines() if "| mpm |" in line)
    assert "0.410 ± 0.010" in mpm and mpm.endswith("| 3 |")
    scratch = next(line for line in text.splitlines() if "| scratch |" in line)
    assert scratch.split(" | ")[3].startswith(f"{(0.9 + 0.31 + 0.32) / 3:.3f}")
    script.plot(tmp_path, tmp_path / "fig" / "ablation.png")
    assert (tmp_path / "fig" / "ablation.png").stat().st_size > 10_000
