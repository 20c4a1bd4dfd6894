"""The empirical neural tangent kernel on a probe set and the measures read from it, as
src/trainer/methods/ntk.ts and src/measures/kernels.ts define them (docs/analyses.md, "Kernel"):

- K(x, x′) = Σ_c ∇_w f_c(x) · ∇_w f_c(x′), the trace over outputs, every trainable parameter;
  exact up to 128 outputs, beyond that a Hutchinson estimate with 64 Rademacher output
  directions from a fixed seed (the same at every checkpoint, so an unchanged model has distance 0);
- kernel distance S = 1 − ⟨K_t, K_0⟩_F / (‖K_t‖_F ‖K_0‖_F) (Fort et al. 2020);
- centred kernel–target alignment ⟨CKC, CYYᵀC⟩_F / (‖CKC‖_F ‖CYYᵀC‖_F) (Baratin et al. 2021).

The per-example Jacobians come from `torch.func` (`vmap` over examples of `jacrev`) on torch 2.x,
`functorch` on 1.13. Memory is bounded: the Jacobian of a block of output directions over a
block of examples is at most JACOBIAN_BYTES, accumulated into K block by block; nothing bigger
than one such block and the n × n kernel is ever held. Everything runs on the model's device;
the measures are taken in float64.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn

try:  # torch ≥ 2.0
    from torch.func import functional_call, jacrev, vmap
except ImportError:  # pragma: no cover - torch 1.13 with functorch
    from functorch import jacrev, vmap  # type: ignore[no-redef]
    from torch.nn.utils.stateless import functional_call  # type: ignore[no-redef]

#: Up to this many outputs the trace over outputs is exact (ntk.ts EXACT_OUTPUTS).
EXACT_OUTPUTS = 128
HUTCHINSON_DIRECTIONS = 64
#: The largest Jacobian block held at once (float32 bytes): directions × examples × parameters.
JACOBIAN_BYTES = 64 << 20


def output_directions(width: int, seed: int, device: torch.device) -> Tuple[torch.Tensor, str]:
    """The output directions the kernel sums over, [S, width], and the setting's word for them."""
    if width <= EXACT_OUTPUTS:
        return torch.eye(width, device=device), "exact"
    g = torch.Generator().manual_seed(int(seed))
    signs = torch.randint(0, 2, (HUTCHINSON_DIRECTIONS, width), generator=g).float() * 2 - 1
    return (signs / math.sqrt(HUTCHINSON_DIRECTIONS)).to(device), f"hutchinson {HUTCHINSON_DIRECTIONS}"


def empirical_ntk(model: nn.Module, x: torch.Tensor, directions: torch.Tensor, max_bytes: int = JACOBIAN_BYTES) -> torch.Tensor:
    """K = Σ_s (∇_w v_s·f(x_i)) · (∇_w v_s·f(x_j)) over the rows v_s of `directions` (identity rows:
    the exact trace over outputs; scaled Rademacher rows: Hutchinson), [n, n] float64 on x's device.
    The model is evaluated one example at a time under vmap, so it sees batches of one."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    size = max(1, sum(p.numel() for p in params.values()))
    n = int(x.shape[0])
    s_total = int(directions.shape[0])
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def jacobian(v: torch.Tensor, rows: slice) -> torch.Tensor:
        """[examples, directions, P] for the examples `rows`: every parameter flattened side by side."""

        def f(p: Dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
            out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
            return v @ out.reshape(-1)

        j = vmap(jacrev(f), in_dims=(None, 0))(params, x[rows])
        return torch.cat([t.reshape(t.shape[0], t.shape[1], -1) for t in j.values()], dim=2)

    def accumulate(ja: torch.Tensor, ra: slice, jb: torch.Tensor, rb: slice) -> None:
        k = torch.einsum("isp,jsp->ij", ja, jb).detach().double()
        kernel[ra, rb] += k
        if ra != rb:
            kernel[rb, ra] += k.T

    whole = n * size * 4
    if whole <= max_bytes:
        # Every example's Jacobian for a block of directions fits: one product per block.
        dir_block = max(1, min(s_total, max_bytes // whole))
        for d0 in range(0, s_total, dir_block):
            j = jacobian(directions[d0 : d0 + dir_block], slice(0, n))
            accumulate(j, slice(0, n), j, slice(0, n))
            del j
        return kernel
    # A big model: one direction at a time, examples in pairs of blocks (each block's Jacobian
    # recomputed for every partner block: time for memory).
    ex_block = max(1, max_bytes // (2 * size * 4))
    starts = list(range(0, n, ex_block))
    for d in range(s_total):
        v = directions[d : d + 1]
        for a, a0 in enumerate(starts):
            ra = slice(a0, min(n, a0 + ex_block))
            ja = jacobian(v, ra)
            for b0 in starts[a:]:
                rb = slice(b0, min(n, b0 + ex_block))
                jb = ja if rb == ra else jacobian(v, rb)
                accumulate(ja, ra, jb, rb)
                del jb
            del ja
    return kernel


def kernel_distance(kt: torch.Tensor, k0: torch.Tensor) -> float:
    """1 − ⟨K_t, K_0⟩_F / (‖K_t‖_F ‖K_0‖_F); NaN when either kernel is zero (kernels.ts `kernelDistance`)."""
    kt, k0 = kt.double(), k0.double()
    denom = torch.linalg.norm(kt) * torch.linalg.norm(k0)
    return float(1 - (kt * k0).sum() / denom) if denom > 0 else math.nan


def _double_center(k: torch.Tensor) -> torch.Tensor:
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def kernel_target_alignment(k: torch.Tensor, y: torch.Tensor) -> float:
    """⟨CKC, Y_cY_cᵀ⟩_F / (‖CKC‖_F ‖Y_cᵀY_c‖_F), Y_c = CY (kernels.ts `centeredKernelTargetAlignment`)."""
    kc = _double_center(k.double())
    yc = y.double() - y.double().mean(0, keepdim=True)
    inner = (yc * (kc @ yc)).sum()
    denom = torch.linalg.norm(kc) * torch.linalg.norm(yc.T @ yc)
    return float(inner / denom) if denom > 0 else math.nan


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA ‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F) (kernels.ts `linearCka`), by the cheaper of
    the feature form and the Gram form; NaN when either representation is constant."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"linear CKA: X has {x.shape[0]} examples, Y has {y.shape[0]}")
    x, y = x.detach().double(), y.detach().double()
    xc = x - x.mean(0, keepdim=True)
    yc = y - y.mean(0, keepdim=True)
    if x.shape[0] >= x.shape[1] + y.shape[1]:
        cross = torch.linalg.norm(yc.T @ xc)
        denom = torch.linalg.norm(xc.T @ xc) * torch.linalg.norm(yc.T @ yc)
        return float(cross * cross / denom) if denom > 0 else math.nan
    kx, ky = xc @ xc.T, yc @ yc.T
    denom = torch.linalg.norm(kx) * torch.linalg.norm(ky)
    return float((kx * ky).sum() / denom) if denom > 0 else math.nan
