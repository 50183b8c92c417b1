"""Geometric message passing on a per-jet eta-phi grid: occupied cells in eager mode, pairs or a dense grid in graphs.

PHAT-JeT's geometric message passing bins each jet's particles on an eta-phi grid (cell 0.05, origin at
the jet's smallest eta and phi), sums features per cell, runs a depthwise 2D convolution (kernel 8, "same"
padding as in Keras: 3 cells before, 4 after) and gathers the result back to the particles. Most cells of
that dense grid are empty. For a particle ``i`` the gathered value is exactly

    y_i = bias + sum_j [offset(cell_j - cell_i) in kernel window] * W[offset] * x_j

over real particles ``j``, so only pairs of particles whose cells lie within the kernel window carry work.
:class:`GridMessagePassing` evaluates that sum directly:

* ``impl="sparse"``: keeps an id table (one int per cell, no features) pointing each occupied cell to a
  representative particle, sums features per occupied cell onto that particle, looks up the K*K window
  cells of every real particle, keeps the occupied ones (``nonzero``) and accumulates
  ``W[offset] * cell_sum`` with ``index_add``. Feature work is proportional to the number of
  (real particle, occupied window cell) pairs, never to the number of grid cells.
* ``impl="auto"`` in eager mode uses the sparse path unless there are so many particles per grid cell
  (real particles x K*K > 3 x grid cells, e.g. 150 real particles in a narrow core) that the dense grid
  is cheaper; then the dense grid is used (same result).
* ``impl="pairs"``: looks the kernel weight up for every pair of particles and contracts with an einsum;
  memory ``B * N * N * C``.
* ``impl="dense"``: :func:`dense_grid_message`, the reference's computation: scatter-sum onto a grid sized
  by the batch's largest jet, dense depthwise convolution, gather.
* ``impl="auto"`` under ``torch.compile`` with gradients on (a compiled training step): ``"pairs"``,
  whose shapes depend only on (B, N): no grid size read from the data and no ``torch.cond`` (whose
  backward inductor rejects), so the step compiles into one graph without breaks (CUDA graphs on a GPU);
  memory ``B * N * N * C``.
* ``impl="auto"`` under export (ONNX export, ``torch.export``) and compiled inference: the graph holds both
  ``"pairs"`` and ``"dense"`` and picks, per batch, the one with fewer entries per jet: all pairs when
  ``N * N <= rows * cols`` (the batch's grid), else the dense grid (the pairs in a ``torch.cond``, an
  ``If`` node in ONNX). Memory is ``B * min(N * N, rows * cols) * C``, never the ``B * N^2 * C`` of all
  pairs at large N; onnxruntime's depthwise convolution is fast, so the exported graph is not slower
  than the eager path (``benchmarks/bench_phat_export.py``). The TorchScript tracer
  (``torch.jit.trace``), which would freeze the example's grid size into the graph, gets ``"pairs"``.

All are exactly equal (up to float summation order) to scatter-sum + dense depthwise conv + gather.
The cells are integers computed before (``models/layers/cells.py``), the same on every path. Padded
particles never occupy cells.
"""

from __future__ import annotations

import torch
from torch import nn

from tagformer.tracing import is_compiling_in_process, is_torchscript_tracing, is_tracing

IMPLS = ("auto", "sparse", "pairs", "dense")


def jet_coordinates(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-particle (eta, phi - phi_jet) from (px, py, pz, E), phi centred on the jet's circular mean.

    Padded particles get (0, 0). Returns (B, N, 2).
    """
    safe = torch.where(mask.unsqueeze(-1), p4, torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=p4.dtype))
    px, py, pz = safe[..., 0], safe[..., 1], safe[..., 2]
    pt = torch.sqrt(px * px + py * py).clamp(min=1e-8)
    eta = torch.asinh(pz / pt)
    phi = torch.atan2(py, px)
    m = mask.to(p4.dtype)
    phi0 = torch.atan2((torch.sin(phi) * m).sum(1, keepdim=True), (torch.cos(phi) * m).sum(1, keepdim=True))
    dphi = torch.atan2(torch.sin(phi - phi0), torch.cos(phi - phi0))
    coords = torch.stack([eta, dphi], dim=-1)
    return coords.masked_fill(~mask.unsqueeze(-1), 0.0)


def cell_indices(coords: torch.Tensor, mask: torch.Tensor, cell_size: float) -> torch.Tensor:
    """Integer grid cells (B, N, 2) of each particle, origin at the jet's smallest coordinate (real
    particles only); padded particles get cell (0, 0) but must be excluded by ``mask`` downstream."""
    big = torch.finfo(coords.dtype).max
    low = coords.masked_fill(~mask.unsqueeze(-1), big).amin(dim=1, keepdim=True)
    low = torch.where(mask.any(dim=1)[:, None, None], low, torch.zeros_like(low))
    cells = torch.floor((coords - low) / cell_size).clamp(min=0, max=30000)
    return cells.masked_fill(~mask.unsqueeze(-1), 0.0).to(torch.int64)


def grid_extent(cells: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns (0-d int tensors) of the grid holding every real particle of the batch."""
    cells = cells.masked_fill(~mask.unsqueeze(-1), 0)
    return cells[..., 0].max() + 1, cells[..., 1].max() + 1


def pairs_are_smaller(cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """0-d bool: ``N * N`` particle pairs per jet are at most the ``rows * cols`` cells of the batch's grid."""
    rows, cols = grid_extent(cells, mask)
    n = cells.shape[1]
    return rows * cols >= n * n


def _window(kernel_size: int) -> tuple[int, int]:
    before = (kernel_size - 1) // 2
    return before, kernel_size - 1 - before


class GridMessagePassing(nn.Module):
    """Depthwise eta-phi grid convolution evaluated only where particles are (see module docstring).

    Parameters
    ----------
    channels : feature size C (depthwise: one kernel per channel).
    kernel_size : grid kernel size K (K x K cells).
    cell_size : grid cell size in eta and phi.
    impl : ``"auto"`` (sparse or dense in eager mode, pairs or dense under tracing), ``"sparse"``,
        ``"pairs"`` or ``"dense"``.
    """

    def __init__(self, channels: int, kernel_size: int = 8, cell_size: float = 0.05, impl: str = "auto") -> None:
        super().__init__()
        if impl not in IMPLS:
            raise ValueError(f"unknown grid message passing impl {impl!r}; choose from {', '.join(IMPLS)}")
        self.channels = channels
        self.kernel_size = kernel_size
        self.cell_size = cell_size
        self.impl = impl
        #: eager "auto" uses the dense grid when (real particles x K*K) > threshold x (grid cells): the
        #: break-even measured on a 2-core CPU (benchmarks/bench_phat_grid.py) lies between 2.2 and 4.
        self.dense_threshold = 3.0
        # Same layout as a depthwise nn.Conv2d weight (C, 1, K, K), so the dense reference can use it.
        self.weight = nn.Parameter(torch.randn(channels, 1, kernel_size, kernel_size) / kernel_size)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, C), ``cells`` (B, N, 2) int from :func:`cell_indices`, ``mask`` (B, N) -> (B, N, C)."""
        if self.impl == "pairs":
            return self._pairs(x, cells, mask)
        if self.impl == "dense":
            return dense_grid_message(x, cells, mask, self.weight, self.bias)
        if self.impl == "auto" and is_compiling_in_process() and torch.is_grad_enabled():
            return self._pairs(x, cells, mask)  # compiled training: static shapes, one graph, no .item()
        if self.impl == "auto" and is_tracing():
            return self._traced(x, cells, mask)
        return self._sparse(x, cells, mask)

    def _traced(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """All pairs or the dense grid, whichever has fewer entries per jet, chosen inside the graph.

        The pairs run in a conditional branch (an ONNX ``If``). The dense grid runs in the main graph,
        where onnxruntime rewrites the depthwise convolution into its fast blocked layout (it does not
        inside ``If`` branches: 10x slower there); when the pairs are chosen it runs on all-zero cells, a
        1 x 1 grid costing next to nothing, and its result is dropped.
        """
        if is_torchscript_tracing():  # TorchScript tracing would freeze the example's grid size
            return self._pairs(x, cells, mask)
        use_pairs = pairs_are_smaller(cells, mask)
        pairs = torch.cond(  # before the dense grid: torch.export wants no unbacked grid size pending here
            use_pairs,
            lambda x, cells, mask: self._pairs(x, cells, mask).contiguous(),
            lambda x, cells, mask: torch.zeros_like(x),
            (x, cells, mask),
        )
        dense = dense_grid_message(x, cells.masked_fill(use_pairs, 0), mask, self.weight, self.bias)
        return torch.where(use_pairs, pairs, dense)

    def _offsets(self, cells: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        before, after = _window(self.kernel_size)
        c = cells.to(dtype)
        du = c[:, None, :, 0] - c[:, :, None, 0]  # (B, i, j): cell_j - cell_i
        dv = c[:, None, :, 1] - c[:, :, None, 1]
        ok = (du >= -before) & (du <= after) & (dv >= -before) & (dv <= after)
        ok = ok & mask[:, None, :] & mask[:, :, None]
        return du, dv, ok

    def _flat_weight(self) -> torch.Tensor:
        return self.weight.reshape(self.channels, -1).t()  # (K*K, C), index a*K + b

    def _sparse(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        real = mask.reshape(-1).nonzero().squeeze(1)  # flat particle ids b * n + i of real particles
        uv = cells.reshape(-1, 2).index_select(0, real)
        yr = self.forward_packed(x.reshape(-1, c).index_select(0, real), real, uv, b, n)
        out = x.new_zeros(b * n, c).index_copy_(0, real, yr - self.bias)
        return out.view(b, n, c) + self.bias

    def forward_packed(
        self, xr: torch.Tensor, real: torch.Tensor, uv: torch.Tensor, batch: int, n: int
    ) -> torch.Tensor:
        """Same computation on packed real particles: ``xr`` (R, C) features, ``real`` (R,) their flat
        ids ``jet * n + position``, ``uv`` (R, 2) their cells -> (R, C) (eager only)."""
        k = self.kernel_size
        before, _ = _window(k)
        c = xr.shape[-1]
        if real.numel() == 0:
            return xr + self.bias
        rows = int(uv[:, 0].max()) + k
        cols = int(uv[:, 1].max()) + k
        if self.impl == "auto" and real.numel() * k * k > self.dense_threshold * batch * rows * cols:
            # Many particles per grid cell (dense jet cores): the dense grid is cheaper here, same result.
            mask = torch.zeros(batch * n, dtype=torch.bool, device=xr.device).index_fill_(0, real, True)
            x = xr.new_zeros(batch * n, c).index_copy_(0, real, xr).view(batch, n, c)
            cells = uv.new_zeros(batch * n, 2).index_copy_(0, real, uv).view(batch, n, 2)
            y = dense_grid_message(x, cells, mask.view(batch, n), self.weight, self.bias)
            return y.reshape(-1, c).index_select(0, real)
        # Flat id of each real particle's cell in a padded per-jet table (ids only, no features on it).
        cid = (real // n) * (rows * cols) + (uv[:, 0] + before) * cols + (uv[:, 1] + before)
        rep = torch.full((batch * rows * cols,), -1, dtype=torch.int64, device=xr.device)
        rep.scatter_reduce_(0, cid, real, reduce="amax")  # one representative particle per occupied cell
        owner = rep.index_select(0, cid)
        cell_sum = xr.new_zeros(batch * n, c).index_add_(0, owner, xr)
        du = torch.arange(k, device=xr.device) - before
        shift = (du[:, None] * cols + du[None, :]).reshape(-1)  # (K*K,), index a*K + b
        # Representative of every window cell of every real particle (R * K*K ids, -1 where empty).
        slots = rep.index_select(0, (cid[:, None] + shift[None, :]).reshape(-1))
        pair = (slots >= 0).nonzero().squeeze(1)  # (real particle, occupied window cell) pairs only
        src = slots.index_select(0, pair)
        msg = self._flat_weight().contiguous().index_select(0, pair % (k * k)) * cell_sum.index_select(0, src)
        out = xr.new_zeros(xr.shape).index_add_(0, pair // (k * k), msg)
        return out + self.bias

    def _pairs(self, x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        before, _ = _window(self.kernel_size)
        du, dv, ok = self._offsets(cells, mask, torch.int64)
        k = (du + before) * self.kernel_size + (dv + before)
        k = torch.where(ok, k, torch.full_like(k, self.kernel_size**2))
        table = torch.cat([self._flat_weight(), self._flat_weight().new_zeros(1, self.channels)], dim=0)
        xs = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        return torch.einsum("bijc,bjc->bic", table[k], xs) + self.bias


def dense_grid_message(
    x: torch.Tensor, cells: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Reference: scatter-sum onto a dense grid sized by the batch's largest jet, depthwise ``conv2d``
    with Keras "same" padding, gather back. Same inputs and result as :class:`GridMessagePassing`.

    Traceable: the grid size is read from the data (an unbacked size under ``torch.export``, computed
    in the graph by onnxruntime)."""
    import torch.nn.functional as F

    b, n, c = x.shape
    k = weight.shape[-1]
    before, after = _window(k)
    rows, cols = grid_extent(cells, mask)
    h, w = rows.item(), cols.item()
    torch._check(h >= 1)
    torch._check(w >= 1)
    cells = cells.masked_fill(~mask.unsqueeze(-1), 0)
    flat = cells[..., 0] * w + cells[..., 1]  # (B, N)
    xs = x.masked_fill(~mask.unsqueeze(-1), 0.0)
    grid = x.new_zeros(b, h * w, c).scatter_add_(1, flat.unsqueeze(-1).expand(b, n, c), xs)
    grid = grid.view(b, h, w, c).permute(0, 3, 1, 2)
    out = F.conv2d(F.pad(grid, (before, after, before, after)), weight, bias, groups=c)
    out = out.permute(0, 2, 3, 1).reshape(b, h * w, c)
    return torch.gather(out, 1, flat.unsqueeze(-1).expand(b, n, c))
