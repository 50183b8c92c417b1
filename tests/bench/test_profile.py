"""Profile output schema and values on a toy model (small N, few repeats, fast)."""

from __future__ import annotations

import csv
import math

import pytest

from tagformer.bench.config import ProfileConfig
from tagformer.bench.profile import PROFILE_COLUMNS, profile_model, profile_models, read_csv, to_markdown, write_csv
from tagformer.bench.targets import resolve_targets
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
        assert row["params"] == 8 * 3 + 8 + 8 * 24 + 24 + 8 * 5 + 5  # embed, qkv, classification head
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


def test_profile_model_by_name_with_overrides(toy_zoo: str) -> None:
    """An architecture search profiles candidates by name + constructor arguments, labelled as compare names them."""
    from tagformer.bench.flops import count_params, model_flops_per_jet
    from tagformer.models import create_model

    rows = profile_model("toyattn", 4, 12, config=ProfileConfig(**FAST), num_classes=3, dim=16)
    assert [(r["particles"], r["batch"]) for r in rows] == [(12, 1), (12, 32)]
    assert {r["model"] for r in rows} == {"toyattn"} and {r["preset"] for r in rows} == {"toyattn(dim=16)"}
    built = create_model("toyattn", num_classes=3, in_features=4, num_particles=12, dim=16)
    assert rows[0]["params"] == count_params(built) == 4 * 16 + 16 + 16 * 48 + 48 + 16 * 3 + 3
    assert rows[0]["flops_per_jet"] == model_flops_per_jet(built, in_features=4, num_particles=12)


def test_profile_model_memory_subprocess_rebuilds_overrides() -> None:
    """The fresh interpreter of the CPU memory measurement builds the same configuration (overrides too)."""
    from tagformer.bench.memory import rss_available

    if not rss_available():
        pytest.skip("no /proc/self/clear_refs: the CPU memory measurement is unavailable here")
    config = ProfileConfig(**{**FAST, "batches": (4,), "memory": "subprocess"})
    rows = profile_model("transformer_tiny", 3, 8, config=config, num_layers=1)
    assert rows[0]["preset"] == "transformer_tiny(num_layers=1)"
    assert rows[0]["mem_method"] == "rss_delta_subprocess" and rows[0]["peak_mem_mb"] >= 0


def test_profile_model_built_module(toy_zoo: str) -> None:
    from tagformer.bench.flops import model_flops_per_jet
    from tagformer.models import create_model

    model = create_model("toyattn_wide", num_classes=5, in_features=3, num_particles=8)
    rows = profile_model(model, 3, (8, 16), config=ProfileConfig(**FAST), name="candidate-7")
    assert [r["particles"] for r in rows] == [8, 8, 16, 16]
    assert {r["model"] for r in rows} == {r["preset"] for r in rows} == {"candidate-7"}
    assert rows[2]["flops_per_jet"] == model_flops_per_jet(model, in_features=3, num_particles=16)
    assert rows[0]["mem_method"] == "rss_delta_inprocess"  # a module cannot be rebuilt in a subprocess
    with pytest.raises(ConfigError, match=r"not to an nn\.Module"):
        profile_model(model, 3, 8, config=ProfileConfig(**FAST), dim=4)
    with pytest.raises(ModelError, match="no argument"):
        profile_model("toyattn", 3, 8, config=ProfileConfig(**FAST), bogus=1)
