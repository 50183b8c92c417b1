"""PHAT-JeT: occupied-cell grid message passing equals the dense grid, patch attention masking and probes, presets."""

from __future__ import annotations

import pytest
import torch

from jetfactory import random_jets
from tagformer.models import create_model
from tagformer.models.attention.patch import PatchAttention, PatchTokenAttention
from tagformer.models.attention.probe import capture_attention
from tagformer.models.layers.cells import jet_cells
from tagformer.models.layers.grid import GridMessagePassing, cell_indices, dense_grid_message, jet_coordinates


def _cells(batch, cell_size=0.05):
    return jet_cells(batch.p4, batch.mask, cell_size)


@pytest.mark.parametrize("impl", ["sparse", "pairs", "dense", "auto", "auto-dense"])
@pytest.mark.parametrize("kernel_size", [8, 3])
def test_grid_message_passing_equals_dense_grid_conv(impl, kernel_size):
    batch = random_jets(16, 40, 3, seed=0, min_real=1)
    torch.manual_seed(0)
    layer = GridMessagePassing(6, kernel_size=kernel_size, impl=impl.removesuffix("-dense"))
    if impl == "auto-dense":
        layer.dense_threshold = 0.0  # take the dense-grid branch of "auto"
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(16, 40, 6) * 10  # garbage in padded slots too
    cells = _cells(batch)
    got = layer(x, cells, batch.mask)
    ref = dense_grid_message(x, cells, batch.mask, layer.weight, layer.bias)
    real = batch.mask.unsqueeze(-1)
    assert ((got - ref) * real).abs().max() <= 1e-4 * ref.abs().max()


def test_sparse_jets_take_the_sparse_path_and_match():
    """Fine cells (0.01): most window cells are empty; the result is still exact."""
    batch = random_jets(8, 30, 3, seed=1)
    layer = GridMessagePassing(4, impl="auto")
    cells = _cells(batch, cell_size=0.01)
    x = torch.randn(8, 30, 4)
    ref = dense_grid_message(x, cells, batch.mask, layer.weight, layer.bias)
    real = batch.mask.unsqueeze(-1)
    assert torch.allclose(layer(x, cells, batch.mask) * real, ref * real, atol=1e-5)


def _spread_batch(jets: int, n: int, width: float, seed: int):
    """pT-ordered jets of ``n`` slots (some padded) with particles spread by ``width`` around the axis."""
    g = torch.Generator().manual_seed(seed)
    eta = torch.randn(jets, n, generator=g) * width + torch.rand(jets, 1, generator=g)
    phi = torch.randn(jets, n, generator=g) * width + torch.rand(jets, 1, generator=g) * 6 - 3
    pt = torch.rand(jets, n, generator=g).sort(dim=1, descending=True).values * 100 + 1
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], -1)
    mask = torch.arange(n)[None] < torch.randint(1, n + 1, (jets, 1), generator=g)
    return random_jets(jets, n, 3, seed=seed).replace(p4=p4, mask=mask)


@pytest.mark.parametrize(("n", "width", "pairs"), [(6, 0.3, True), (40, 0.1, False)])
def test_traced_path_picks_the_smaller_formulation_and_matches(n, width, pairs):
    """The graph path (pairs when N * N <= the batch's grid cells, else the dense grid) equals the dense
    reference on real particles; run eagerly here, exported below."""
    from tagformer.models.layers.grid import grid_extent, pairs_are_smaller

    batch = _spread_batch(12, n, width, seed=n)
    cells = _cells(batch)
    rows, cols = grid_extent(cells, batch.mask)
    assert bool(pairs_are_smaller(cells, batch.mask)) is pairs and bool(rows * cols >= n * n) is pairs
    torch.manual_seed(0)
    layer = GridMessagePassing(5)
    x = torch.randn(12, n, 5) * 10
    with torch.no_grad():
        layer.bias.normal_()
        got = layer._traced(x, cells, batch.mask)
    ref = dense_grid_message(x, cells, batch.mask, layer.weight, layer.bias)
    real = batch.mask.unsqueeze(-1)
    torch.testing.assert_close(got * real, ref * real, atol=1e-5, rtol=1e-5)


class _Grid(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = GridMessagePassing(5)

    def forward(self, x: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.layer(x, jet_cells(p4, mask, 0.05), mask)


def test_exported_grid_equals_the_eager_path_on_both_formulations():
    """ONNX graph of cells + grid message passing: the same outputs as the eager (sparse) path for a batch
    that takes the pairs and one that takes the dense grid; the pairs live only inside the If branch, the
    convolution in the main graph (where onnxruntime optimises it)."""
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    module = _Grid().eval()
    example = _spread_batch(3, 8, 0.3, seed=0)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("particles")}
    x = torch.randn(3, 8, 5)
    program = torch.onnx.export(module, (x, example.p4, example.mask), dynamo=True,
                                dynamic_shapes=(dims, dims, dims), verbose=False)
    graph = program.model_proto.graph
    ops = {node.op_type for node in graph.node}
    (branch,) = [node for node in graph.node if node.op_type == "If"]
    inner = {n.op_type for a in branch.attribute if a.g.node for n in a.g.node}
    assert "Conv" in ops and "Einsum" not in ops and "Einsum" in inner
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for n, width in ((6, 0.3), (40, 0.1)):
        batch = _spread_batch(64, n, width, seed=n + 1)
        xb = torch.randn(64, n, 5)
        with torch.no_grad():
            want = module(xb, batch.p4, batch.mask)  # eager: the occupied-cell path
        (got,) = session.run(None, {"x": xb.numpy(), "p4": batch.p4.numpy(), "mask": batch.mask.numpy()})
        real = batch.mask.unsqueeze(-1)
        torch.testing.assert_close(torch.from_numpy(got) * real, want * real, atol=1e-5, rtol=1e-5)


def test_glorot_init_and_layer_norm_epsilon_options():
    import math

    torch.manual_seed(0)
    enc = create_model("phat_small", num_classes=5, in_features=3, init="glorot", norm_eps=1e-6).encoder
    block = enc.blocks[0]
    assert block.norm1.eps == block.norm2.eps == block.gmp.norm.eps == 1e-6
    for name, module in enc.named_modules():
        if isinstance(module, (torch.nn.Linear, GridMessagePassing)):
            assert (module.bias == 0).all(), name
    grid = block.gmp.grid.weight  # (C, 1, K, K): Keras depthwise fans K * K and C * K * K
    limit = math.sqrt(6.0 / (64 + 16 * 64))
    assert 0.5 * limit < float(grid.abs().max()) <= limit
    for kernel in block.patch_attn.heads.qkv.weight.split(16, dim=0):
        assert 0.5 * math.sqrt(6 / 32) < float(kernel.abs().max()) <= math.sqrt(6 / 32)
    default = create_model("phat_small", num_classes=5, in_features=3).encoder
    assert default.blocks[0].norm1.eps == 1e-5 and float(default.blocks[0].gmp.grid.weight.std()) > 0.1


def test_padded_particles_never_occupy_cells():
    batch = random_jets(4, 20, 3, seed=2)
    layer = GridMessagePassing(3, impl="sparse")
    x = torch.randn(4, 20, 3)
    cells = _cells(batch)
    noisy = x.masked_fill(~batch.mask.unsqueeze(-1), 1e6)
    real = batch.mask.unsqueeze(-1)
    assert torch.allclose(layer(x, cells, batch.mask) * real, layer(noisy, cells, batch.mask) * real)


def test_cells_start_at_zero_per_jet_and_wrap_phi():
    batch = random_jets(5, 12, 3, seed=3)
    coords = jet_coordinates(batch.p4, batch.mask)
    assert coords[..., 1].abs().max() < 3.2
    big = torch.iinfo(torch.int64).max
    for cells in (cell_indices(coords, batch.mask, 0.05), jet_cells(batch.p4, batch.mask, 0.05)):
        assert (cells.masked_fill(~batch.mask.unsqueeze(-1), big).amin(1) == 0).all()


@pytest.mark.parametrize("angle", [0.0, 3.1])  # 3.1 rotates many jets across the phi = +-pi seam
def test_reproducible_cells_equal_the_floor_formula(angle):
    """jet_cells (exactly rounded ops + thresholds) == floor((coord - min) / cell) computed in float64,
    except for particles within rounding distance of a cell boundary."""
    batch = random_jets(64, 40, 3, seed=4, min_real=1)
    c, s = torch.cos(torch.tensor(angle)), torch.sin(torch.tensor(angle))
    p4 = batch.p4.clone()
    p4[..., 0], p4[..., 1] = c * batch.p4[..., 0] - s * batch.p4[..., 1], s * batch.p4[..., 0] + c * batch.p4[..., 1]
    mask = batch.mask
    got = jet_cells(p4, mask, 0.05)
    coords = jet_coordinates(p4.double(), mask)
    low = coords.masked_fill(~mask.unsqueeze(-1), 1e9).amin(1, keepdim=True)
    scaled = (coords - low) / 0.05
    ref = torch.floor(scaled).long()
    near = (scaled - scaled.round()).abs() < 1e-4
    ok = (got == ref) | near | ~mask.unsqueeze(-1)
    assert ok.all()
    assert (got[mask] > 0).any()  # not trivially all zero


def test_patch_attention_ignores_padding_and_is_local():
    torch.manual_seed(0)
    attn = PatchAttention(8, 2, patch_size=4).eval()
    x = torch.randn(2, 10, 8)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[:, 7:] = False
    y = attn(x, mask)
    x2 = x.clone()
    x2[:, 7:] = 99.0  # padding
    x2[:, 4] += 1.0  # second patch only
    y2 = attn(x2, mask)
    assert torch.allclose(y[:, :4], y2[:, :4])  # first patch untouched by the second
    assert not torch.allclose(y[:, 4:7], y2[:, 4:7])
    assert torch.isfinite(y2).all()


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_patch_tokens_reach_other_patches(pool):
    torch.manual_seed(0)
    attn = PatchTokenAttention(8, 2, patch_size=3, pool=pool).eval()
    x = torch.randn(1, 9, 8)
    mask = torch.ones(1, 9, dtype=torch.bool)
    x2 = x.clone()
    x2[0, 8] += 3.0
    y, y2 = attn(x, mask), attn(x2, mask)
    assert not torch.allclose(y[0, 0], y2[0, 0])  # token of patch 3 changed patch 1's message
    assert torch.allclose(y[0, 0], y[0, 2])  # one message broadcast per patch


def test_small_preset_matches_the_paper_budget():
    model = create_model("phat_small", num_classes=5, in_features=3)
    params = sum(p.numel() for p in model.parameters())
    assert 6_000 <= params <= 6_800  # reference small configuration: 6,405 (TF code), 6,694 (paper)


def _holed_batch():
    batch = random_jets(7, 30, 3, 4, seed=5, min_real=1)
    mask = batch.mask.clone()
    mask[0, 2] = False  # a hole inside a jet: patches are positional, both paths must agree
    return batch.replace(mask=mask)


@pytest.mark.parametrize("patch_pool", ["mean", "max"])
def test_packed_eager_path_equals_padded_path(patch_pool):
    torch.manual_seed(0)
    encoder = create_model("phat_medium", num_classes=4, in_features=3, patch_size=4,
                           patch_pool=patch_pool).encoder.eval()
    batch = _holed_batch()
    with torch.no_grad():
        torch.testing.assert_close(encoder.encode_packed(batch), encoder.encode_dense(batch), atol=1e-5, rtol=1e-5)


def test_patch_probes_are_the_same_on_both_paths_and_locate_particles():
    torch.manual_seed(0)
    encoder = create_model("phat_small", num_classes=4, in_features=3, patch_size=4).encoder.eval()
    batch = _holed_batch()
    with torch.no_grad():
        with capture_attention(encoder) as packed:
            encoder.encode_packed(batch)
        with capture_attention(encoder) as dense:
            encoder.encode_dense(batch)
    patch_p, patch_d = packed["blocks.0.patch_attn"][0], dense["blocks.0.patch_attn"][0]
    assert patch_p.kind == "patch" and patch_p.weights.shape == (7 * 8, 4, 4, 4)  # 8 patches of 4 per jet
    real = torch.nn.functional.pad(batch.mask, (0, 2)).reshape(7 * 8, 4)  # 30 slots padded to 32
    for amap in (patch_p, patch_d):
        assert torch.equal(amap.query_mask, real) and torch.equal(amap.key_mask, real)
        assert amap.query_index[0].tolist() == [0, 1, -1, 3]  # jet 0, patch 0: slot 2 is the hole
        assert torch.equal(amap.key_index[9], torch.tensor([4, 5, 6, 7]).masked_fill(~real[9], -1))
    keep = (real[:, None, :, None] & real[:, None, None, :]).expand_as(patch_p.weights)
    torch.testing.assert_close(patch_p.weights[keep], patch_d.weights[keep], atol=1e-5, rtol=1e-5)
    tokens_p, tokens_d = packed["blocks.0.token_attn"][0], dense["blocks.0.token_attn"][0]
    assert tokens_p.kind == "patch_tokens" and tokens_p.weights.shape == (7, 4, 8, 8)
    assert torch.equal(tokens_p.key_mask, real.view(7, 8, 4).any(-1))
    assert torch.equal(tokens_p.key_mask, tokens_d.key_mask)
    present = tokens_p.key_mask
    keep = (present[:, None, :, None] & present[:, None, None, :]).expand_as(tokens_p.weights)
    torch.testing.assert_close(tokens_p.weights[keep], tokens_d.weights[keep], atol=1e-5, rtol=1e-5)


def test_probing_keeps_every_patch_of_the_batch():
    """Trailing slots that are padding in every jet are kept while probing: NP = ceil(N / P)."""
    torch.manual_seed(0)
    tagger = create_model("phat_small", num_classes=4, in_features=3, patch_size=4).eval()
    batch = _holed_batch()
    batch = batch.replace(mask=batch.mask & (torch.arange(30) < 10))
    with torch.no_grad(), capture_attention(tagger) as maps:
        probed = tagger(batch)
    torch.testing.assert_close(probed, tagger(batch))
    assert maps["encoder.blocks.0.patch_attn"][0].weights.shape[0] == 7 * 8
    assert maps["encoder.blocks.0.token_attn"][0].weights.shape[-1] == 8


class _Cells(torch.nn.Module):
    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return jet_cells(p4, mask, 0.05)


@pytest.mark.slow
def test_cells_are_bit_identical_in_onnxruntime_for_grid_aligned_particles():
    """Calorimeter-like particles sit exactly on cell boundaries; torch and onnxruntime must agree."""
    ort = pytest.importorskip("onnxruntime")
    g = torch.Generator().manual_seed(0)
    k = torch.randint(-12, 13, (256, 40, 2), generator=g).double()
    eta = (torch.rand(256, 1, generator=g).double() * 2 - 1).round(decimals=1) + 0.05 * k[..., 0]
    phi = (torch.rand(256, 1, generator=g).double() * 6 - 3).round(decimals=1) + 0.05 * k[..., 1]
    pt = torch.rand(256, 40, generator=g).double() * 100 + 1
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], -1).float()
    mask = torch.ones(256, 40, dtype=torch.bool)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("particles")}
    program = torch.onnx.export(_Cells(), (p4[:4], mask[:4]), dynamo=True, dynamic_shapes=(dims, dims))
    session = ort.InferenceSession(program.model_proto.SerializeToString())
    (out,) = session.run(None, {"p4": p4.numpy(), "mask": mask.numpy()})
    assert torch.equal(torch.from_numpy(out), jet_cells(p4, mask, 0.05))
