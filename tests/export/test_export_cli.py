"""``tagformer export`` user errors: exit status 2 and one ``error:`` line, before any export work."""

from __future__ import annotations

from types import MappingProxyType

import pytest
import torch
from torch import nn

from tagformer.bench.inputs import synthetic_jets
from tagformer.cli.main import main
from tagformer.errors import ModelError
from tagformer.export.onnx import export_onnx
from tagformer.models import registry
from tagformer.models.encoder import Encoder
from tagformer.models.registry import Capabilities, register_model


@register_model("toyloop", presets={"toyloop": {}}, capabilities=Capabilities(onnx_exportable=False))
class ToyLoop(Encoder):
    """Data-dependent Python control flow: declared not exportable."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.embed_dim = self.jet_dim = 4
        self.embed = nn.Linear(in_features, 4)

    def encode(self, batch):  # type: ignore[no-untyped-def]
        return self.embed(batch.features) * batch.mask[..., None]

    def pool(self, tokens, mask):  # type: ignore[no-untyped-def]
        rows = [tokens[i, : int(mask[i].sum())].mean(0) for i in range(len(tokens))]
        return torch.stack(rows)


class ThreeDimAttention(nn.Module):
    """Declared nothing, but uses 3-D scaled_dot_product_attention, which the ONNX exporter rejects."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 6)

    def forward(self, features, p4, mask):  # type: ignore[no-untyped-def]
        x = self.proj(features)
        out = nn.functional.scaled_dot_product_attention(x, x, x, attn_mask=mask[:, None, :])
        return out.mean(1)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err.strip()


def test_missing_run(tmp_path, capsys) -> None:
    code, err = run_cli(["export", str(tmp_path / "nope"), "--onnx"], capsys)
    assert code == 2 and err.startswith("error: ") and "does not exist" in err and len(err.splitlines()) == 1


def test_run_without_checkpoint(make_run, capsys) -> None:
    run = make_run("transformer")
    (run / "checkpoints" / "best.pt").unlink()
    code, err = run_cli(["export", str(run), "--onnx"], capsys)
    assert code == 2 and "best.pt is missing" in err and len(err.splitlines()) == 1


def test_existing_export_needs_overwrite(make_run, capsys) -> None:
    run = make_run("transformer")
    (run / "export").mkdir()
    (run / "export" / "model.onnx").write_bytes(b"previous export")
    code, err = run_cli(["export", str(run), "--onnx"], capsys)
    assert code == 2 and "already exists; pass --overwrite" in err
    assert (run / "export" / "model.onnx").read_bytes() == b"previous export"


def test_format_and_arguments(make_run, capsys) -> None:
    run = make_run("transformer")
    assert run_cli(["export", str(run)], capsys) == (2, "error: choose an export format: --onnx (optionally "
                                                       "with --int8)")
    code, err = run_cli(["export", str(run), "--onnx", "--max-jets", "0"], capsys)
    assert code == 2 and "--max-jets must be >= 1" in err


def test_model_declared_not_exportable(make_run, monkeypatch, capsys) -> None:
    entries = dict(registry._discover())
    entries["toyloop"] = ToyLoop.__tagformer_entry__
    monkeypatch.setattr(registry, "_discover", lambda: MappingProxyType(entries))
    run = make_run("toyloop")
    code, err = run_cli(["export", str(run), "--onnx"], capsys)
    assert code == 2 and "'toyloop'" in err and "not ONNX-exportable" in err and len(err.splitlines()) == 1
    assert not (run / "export" / "model.onnx").exists()


def test_export_failure_is_a_model_error(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"cannot be exported to ONNX: .*only 4D query"):
        export_onnx(ThreeDimAttention(), synthetic_jets(3, 5), tmp_path / "m.onnx", name="toy")
