"""PHAT-JeT: Patch Hierarchical Attention Transformer for jet tagging (arXiv:2605.21789).

Per block: (1) geometric message passing on a per-jet eta-phi grid (cell 0.05, depthwise K x K kernel,
evaluated on occupied cells only, :class:`~tagformer.models.layers.grid.GridMessagePassing`), then a
dense, a norm and a residual; (2) exact multi-head attention inside patches of ``P`` consecutive
particles; (3) patch tokens -> attention between patches -> broadcast back; (4) feed-forward network.
Particles are expected pT-ordered with the padding last (patches are contiguous slices). The grid
coordinates (eta, phi) come from ``p4``; ``features`` feed the embedding.

As an :class:`~tagformer.models.encoder.Encoder`: ``encode`` returns the last block's outputs (B, N, dim);
``pool`` is the masked max (or mean) and the jet-level ``Linear + ReLU`` (jet embedding ``dim``). Attention
probes: ``"patch"`` (inside patches) and ``"patch_tokens"`` (between patches) per block, see
:mod:`~tagformer.models.attention.patch`; while probing no trailing slot is dropped, so every jet has
``ceil(N / patch_size)`` patches. :func:`tagformer.models.inference.prepare_for_inference` fuses each
FFN's first linear layer with its GELU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.patch import PatchAttention, PatchLayout, PatchTokenAttention
from tagformer.models.encoder import Encoder
from tagformer.models.layers import MaskedPool, make_norm
from tagformer.models.layers.cells import jet_cells
from tagformer.models.layers.fused import FusedLinearGELU
from tagformer.models.layers.grid import GridMessagePassing
from tagformer.models.layers.trim import trim_trailing_padding
from tagformer.models.registry import Capabilities, register_model
from tagformer.tracing import is_tracing


class GeometricMessagePassing(nn.Module):
    """``x + norm(dense(grid_conv(x)))`` — PHAT-JeT's geometric message passing step."""

    def __init__(self, dim: int, kernel_size: int, cell_size: float, norm: str, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.grid = GridMessagePassing(dim, kernel_size=kernel_size, cell_size=cell_size)
        self.dense = nn.Linear(dim, dim)
        self.norm = make_norm(norm, dim, norm_eps)

    def forward(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.dense(self.grid(x, cells, mask)))

    def forward_packed(self, xr: torch.Tensor, real: torch.Tensor, uv: torch.Tensor, b: int, n: int) -> torch.Tensor:
        return xr + self.norm(self.dense(self.grid.forward_packed(xr, real, uv, b, n)))


class PHATBlock(nn.Module):
    """Geometric message passing, patch attention, patch-token attention, FFN (pre-norm residuals)."""

    def __init__(
        self, dim: int, num_heads: int, patch_size: int, ffn_dim: int, kernel_size: int, cell_size: float,
        norm: str, patch_pool: str, norm_eps: float = 1e-5, activation: str = "gelu",
    ) -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"unknown FFN activation {activation!r}; choose gelu or relu")
        self.gmp = GeometricMessagePassing(dim, kernel_size, cell_size, norm, norm_eps)
        self.norm1 = make_norm(norm, dim, norm_eps)  # shared by both attentions, as in the reference
        self.patch_attn = PatchAttention(dim, num_heads, patch_size)
        self.token_attn = PatchTokenAttention(dim, num_heads, patch_size, pool=patch_pool)
        self.norm2 = make_norm(norm, dim, norm_eps)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.fc2 = nn.Linear(ffn_dim, dim)

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def for_inference(self) -> PHATBlock:
        """The FFN's ``fc1`` + GELU as one fused CPU kernel (see :mod:`tagformer.models.inference`)."""
        if isinstance(self.fc1, nn.Linear) and isinstance(self.act, nn.GELU):
            self.fc1, self.act = FusedLinearGELU(self.fc1), nn.Identity()
        return self

    @property
    def probing(self) -> bool:
        return self.patch_attn.probing or self.token_attn.probing

    def forward(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Padded path (B, N, D) (used under export)."""
        x = self.gmp(x, cells, mask)
        x = x + self.patch_attn(self.norm1(x), mask)
        x = x + self.token_attn(self.norm1(x), mask)
        x = x + self.ffn(self.norm2(x))
        return x.masked_fill(~mask.unsqueeze(-1), 0.0)

    def forward_packed(
        self, xr: torch.Tensor, uv: torch.Tensor, layout: PatchLayout, b: int, n: int
    ) -> torch.Tensor:
        """Packed real particles (R, D) (eager path; same result)."""
        xr = self.gmp.forward_packed(xr, layout.real, uv, b, n)
        xr = xr + self.patch_attn.forward_packed(self.norm1(xr), layout)
        xr = xr + self.token_attn.forward_packed(self.norm1(xr), layout)
        return xr + self.ffn(self.norm2(xr))


@register_model(
    "phat",
    presets={
        "phat_small": dict(dim=16, num_heads=4, patch_size=10, ffn_dim=64, depth=1),
        "phat_medium": dict(dim=32, num_heads=4, patch_size=10, ffn_dim=128, depth=2),
        "phat_large": dict(dim=64, num_heads=8, patch_size=16, ffn_dim=256, depth=3),
    },
    capabilities=Capabilities(
        permutation_invariant=False, needs_p4=True, order_dependent="pt", onnx_exportable=True
    ),
    paper="arXiv:2605.21789",
    smallest="phat_small",
    default="phat_small",
)
class PHAT(Encoder):
    """PHAT-JeT: grid message passing + hierarchical patch attention (pT-ordered particles).

    Parameters
    ----------
    in_features : from the data.
    dim, num_heads, patch_size, ffn_dim, depth : encoder shape (reference small configuration: 16, 4,
        10 or 25, 64, 1).
    kernel_size, cell_size : grid kernel K (K x K cells) and cell size in rapidity and phi (8, 0.05).
    norm : ``"layer"`` (reference) or another :func:`~tagformer.models.layers.norm.make_norm` name.
    patch_pool : patch tokens by ``"mean"`` (reference) or ``"max"`` over each patch's real particles.
    pool : jet pooling over real particles, ``"max"`` (reference) or ``"mean"``.
    init : ``"torch"`` (torch's layer defaults; grid kernel ``randn / K``) or ``"glorot"`` (the reference's
        Keras defaults: Glorot-uniform dense weights (q, k, v as separate ``dim x dim`` kernels) and grid
        kernel (fans ``K * K`` and ``dim * K * K``, as a Keras depthwise kernel), zero biases).
    norm_eps : LayerNorm epsilon (reference 1e-6; 1e-5 keeps saved runs' function).
    activation : the FFN's activation, ``"gelu"`` (reference) or ``"relu"`` (hardware-friendly: with
        ``norm="none"`` the FPGA variant of ``tagformer fpga`` computes the trained function exactly).
    """

    legacy_head = "head.2"
    legacy_renames = (("head.0.", "jet_mlp.0."),)

    def __init__(
        self,
        in_features: int,
        dim: int = 16,
        num_heads: int = 4,
        patch_size: int = 10,
        ffn_dim: int = 64,
        depth: int = 1,
        kernel_size: int = 8,
        cell_size: float = 0.05,
        norm: str = "layer",
        patch_pool: str = "mean",
        pool: str = "max",
        init: str = "torch",
        norm_eps: float = 1e-5,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if init not in ("torch", "glorot"):
            raise ValueError(f"unknown init {init!r}; choose from glorot, torch")
        self.cell_size = cell_size
        self.patch_size = patch_size
        self.embed = nn.Sequential(nn.Linear(in_features, dim), nn.ReLU())
        self.blocks = nn.ModuleList(
            PHATBlock(dim, num_heads, patch_size, ffn_dim, kernel_size, cell_size, norm, patch_pool, norm_eps,
                      activation)
            for _ in range(depth)
        )
        self.masked_pool = MaskedPool(pool)
        self.jet_mlp = nn.Sequential(nn.Linear(self.masked_pool.out_dim(dim), dim), nn.ReLU())
        self.embed_dim = self.jet_dim = dim
        if init == "glorot":
            self.reset_glorot()

    def reset_glorot(self) -> None:
        """Glorot-uniform weights and zero biases (Keras defaults): every dense layer, each of q/k/v as its
        own ``dim x dim`` kernel, and the depthwise grid kernel (torch's fans of a (C, 1, K, K) weight
        are Keras's for a (K, K, 1, C) depthwise kernel)."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, GridMessagePassing):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
            for block in self.blocks:
                for attn in (block.patch_attn, block.token_attn):
                    for kernel in attn.heads.qkv.weight.split(attn.heads.qkv.in_features, dim=0):
                        nn.init.xavier_uniform_(kernel)

    def encode(self, batch: JetBatch) -> torch.Tensor:
        if is_tracing():
            return self.encode_dense(batch)
        full = batch.mask.shape[1]
        if not any(block.probing for block in self.blocks):
            batch = trim_trailing_padding(batch)
        x = self.encode_packed(batch)
        return F.pad(x, (0, 0, 0, full - x.shape[1])) if x.shape[1] < full else x

    def encode_dense(self, batch: JetBatch) -> torch.Tensor:
        """Padded (B, N, D) path with static shapes (export)."""
        mask = batch.mask
        cells = jet_cells(batch.p4, mask, self.cell_size)
        x = self.embed(batch.features).masked_fill(~mask.unsqueeze(-1), 0.0)
        for block in self.blocks:
            x = block(x, cells, mask)
        return x

    def encode_packed(self, batch: JetBatch) -> torch.Tensor:
        """Eager path: every per-particle layer runs on the real particles only, patch attention only
        on patches that hold a real particle. Same result as :meth:`encode_dense`."""
        mask = batch.mask
        b, n = mask.shape
        layout = PatchLayout(mask, self.patch_size)
        cells = jet_cells(batch.p4, mask, self.cell_size)
        uv = cells.reshape(-1, 2).index_select(0, layout.real)
        xr = self.embed(batch.features.reshape(b * n, -1).index_select(0, layout.real))
        for block in self.blocks:
            xr = block.forward_packed(xr, uv, layout, b, n)
        return xr.new_zeros(b * n, xr.shape[-1]).index_copy_(0, layout.real, xr).view(b, n, -1)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.jet_mlp(self.masked_pool(tokens, mask))
