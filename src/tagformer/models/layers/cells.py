"""Rapidity-phi grid cells computed bit-reproducibly (same integers in torch and in onnxruntime).

PHAT-JeT bins each jet's particles on an eta-phi grid: ``floor((eta - eta_min) / cell)`` and the same for
phi. Computed with ``asinh``/``atan2`` (or even ``sqrt``) in float32, a particle sitting on a cell
boundary lands in one cell in torch and in the neighbouring cell in another runtime (their kernels round
differently in the last bit), which changes the logits; calorimeter pseudo-particles sit exactly on
such boundaries. Here the cells are found with operations IEEE 754 rounds exactly (``+ - * /``), exact
reductions (``min``, ``argmin``) and comparisons with constant thresholds, so every runtime evaluating
the same graph gets the same integers (checked against onnxruntime on grid-aligned particles):

* rapidity y (equal to eta for massless particles; sqrt-free unlike eta): ``exp(2y) = (E + pz) /
  (E - pz)``; the cell is the number of thresholds ``exp(2 * cell * k)`` (k = 1..max_cells-1) that the
  ratio to the jet's smallest value reaches.
* phi: the origin is the particle with the smallest azimuth relative to the leading particle (ordered
  by a sqrt-free pseudo-angle, seam-safe); the angle theta in [0, pi) of each particle from the origin
  reaches ``cell * k`` iff ``cos(theta) <= cos(cell * k)``, tested on squares of dot products.

Mathematically the cells equal the floor formula (with rapidity for eta); they differ from a float32
floor only where a particle lies within rounding error of a boundary. Cells beyond ``max_cells - 1`` (3.2 units at the
defaults, wider than any R <= 1.5 jet) are clamped. Padded particles get cell (0, 0) and must be excluded
by the mask downstream.
"""

from __future__ import annotations

import math

import torch


def _count_reached(values: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    return (values.unsqueeze(-1) >= thresholds.to(values.device)).sum(-1)


def _pseudo_angle(dot: torch.Tensor, cross: torch.Tensor) -> torch.Tensor:
    """A monotonic function of the angle atan2(cross, dot) on (-pi, pi], without transcendental or sqrt
    (diamond angle): in [-1, 1] for dot >= 0, beyond +-1 for the back half-plane."""
    frac = cross / (dot.abs() + cross.abs()).clamp(min=1e-30)
    back = torch.where(cross >= 0, 2.0 - frac, -2.0 - frac)
    return torch.where(dot >= 0, frac, back)


def jet_cells(p4: torch.Tensor, mask: torch.Tensor, cell_size: float = 0.05, max_cells: int = 64) -> torch.Tensor:
    """(B, N, 2) int64 rapidity and phi cells of every particle, origin at the jet's smallest values."""
    one = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=p4.dtype, device=p4.device)
    px, py, pz, e = torch.where(mask.unsqueeze(-1), p4, one).unbind(-1)
    tiny = torch.finfo(p4.dtype).tiny
    big = torch.finfo(p4.dtype).max
    steps = [cell_size * k for k in range(1, max_cells)]

    # rapidity: exp(2 y) = (E + pz) / (E - pz); y - y_min >= c k  <=>  ratio / ratio_min >= exp(2 c k).
    r = (e + pz).clamp(min=tiny) / (e - pz).clamp(min=tiny)
    r_min = r.masked_fill(~mask, big).amin(dim=1, keepdim=True)
    growth = torch.tensor([math.exp(min(2.0 * s, 80.0)) for s in steps], dtype=p4.dtype)
    y_cell = _count_reached(r / r_min, growth)

    # phi: origin = the particle with the smallest angle relative to the leading (first real) particle.
    lead = mask.to(torch.int64).argmax(dim=1, keepdim=True)
    ax, ay = px.gather(1, lead), py.gather(1, lead)
    key = _pseudo_angle(ax * px + ay * py, ax * py - ay * px).masked_fill(~mask, big)
    origin = key.argmin(dim=1, keepdim=True)
    ox, oy = px.gather(1, origin), py.gather(1, origin)
    dot, cross = ox * px + oy * py, ox * py - oy * px  # angle theta in [0, pi) from the origin
    norms = (ox * ox + oy * oy) * (px * px + py * py)
    cos_k = torch.tensor([math.cos(min(s, math.pi)) for s in steps], dtype=p4.dtype).to(p4.device)
    d, d2, n2 = dot.unsqueeze(-1), (dot * dot).unsqueeze(-1), norms.unsqueeze(-1)
    bound = cos_k * cos_k * n2  # theta >= theta_k  <=>  cos(theta) <= cos_k, compared squared
    front = cos_k >= 0  # boolean algebra, not where(): onnxruntime has no boolean Where kernel
    reached = (front & ((d <= 0) | (d2 <= bound))) | (~front & (d < 0) & (d2 >= bound))
    phi_cell = (reached & (cross >= 0).unsqueeze(-1)).sum(-1)

    cells = torch.stack([y_cell, phi_cell], dim=-1)
    return cells.masked_fill(~mask.unsqueeze(-1), 0)
