"""Profile output schema and values on a toy model (small N, few repeats, fast)."""

from __future__ import annotations

import csv
import math

import pytest

from tagformer.bench.profile import (
    PROFILE_COLUMNS,
    ProfileConfig,
    profile_models,
    read_csv,
    resolve_targets,
    to_markdown,
    write_csv,
)
from tagformer.errors import ConfigError, ModelError

FAST = dict(particles=(8, 16), batches=(1, 32), repeats=3, warmup=1, budget_s=0.05, memory="inprocess",
            calibrate_size=256, threads=1)


def test_resolve_targets_models_and_presets(toy_zoo: str) -> None:
    assert resolve_targets("toyattn") == [("toyattn", "toyattn")]
    assert resolve_targets("toy*") == [("toyattn", "toyattn"), ("toyattn", "toyattn_wide")]
    assert resolve_targets("toyattn_wide,toyattn") == [("toyattn", "toyattn_wide"), ("toyattn", "toyattn")]
    with pytest.raises(ModelError, match="nope"):
        resolve_targets("nope*")


def test_profile_rows_follow_schema(toy_zoo: str, tmp_path) -> None:
    rows = profile_models("toyattn", ProfileConfig(**FAST))
    assert len(rows) == 4  # 2 particle counts x 2 batch sizes
    for row in rows:
        assert tuple(row) == PROFILE_COLUMNS
        assert row["params"] == 8 * 3 + 8 + 8 * 24 + 24 + 8 * 5 + 5
        assert row["flops_per_jet"] == 2 * row["macs_per_jet"] > 0
        assert 0 < row["latency_ms_p50"] <= row["latency_ms_p99"]
        assert row["throughput_jets_s"] == pytest.approx(row["batch"] / row["latency_ms_p50"] * 1e3)
        assert 0 < row["flops_fraction"] < 10 and row["matmul_gflops"] > 0
        assert row["mem_method"] == "rss_delta_inprocess" and row["peak_mem_mb"] >= 0
        assert row["threads"] == 1 and row["device"] == "cpu" and row["dtype"] == "fp32"
    by_n = {r["particles"]: r["flops_per_jet"] for r in rows}
    assert by_n[16] > by_n[8]  # attention and embeddings grow with N
    path = write_csv(rows, tmp_path / "p" / "profile.csv")
    with path.open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == PROFILE_COLUMNS
    back = read_csv(path)
    assert [int(r["particles"]) for r in back] == [r["particles"] for r in rows]
    assert float(back[0]["flops_per_jet"]) == pytest.approx(rows[0]["flops_per_jet"], rel=1e-5)
    table = to_markdown(rows, "toy")
    assert table.count("\n| toyattn |") == 4


def test_profile_bf16_and_memory_off(toy_zoo: str) -> None:
    rows = profile_models("toyattn", ProfileConfig(**{**FAST, "particles": (8,), "batches": (4,),
                                                      "dtype": "bf16", "memory": "off"}))
    assert rows[0]["dtype"] == "bf16" and math.isnan(rows[0]["peak_mem_mb"]) and rows[0]["mem_method"] == "none"


@pytest.mark.parametrize("change", [{"particles": (0,)}, {"batches": ()}, {"dtype": "fp16"},
                                    {"memory": "psutil"}, {"threads": 0}, {"device": "tpu"}])
def test_bad_config(change: dict) -> None:
    with pytest.raises(ConfigError):
        ProfileConfig(**{**FAST, **change}).check()


def test_read_csv_rejects_other_files(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("model,preset\nphat,phat\n")
    with pytest.raises(ConfigError, match="missing columns"):
        read_csv(path)
