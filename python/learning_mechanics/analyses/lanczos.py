"""The largest eigenvalues of a symmetric operator known only through products v ↦ Av: Lanczos with
full reorthogonalization, the twin of src/measures/lanczos.ts (same start vector, same stopping
rule, same residual bounds), so both sides stop after the same number of products on the same
Hessian. The small tridiagonal matrix is diagonalized by `torch.linalg.eigh` (the TypeScript side
uses Jacobi rotations; both are exact to rounding for m ≤ 200).

Vectors are float64 on `device` (CPU for MPS, which has no float64): the operator receives and
returns such vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

Operator = Callable[[Tensor], Tensor]

_starts: Dict[int, Tensor] = {}


def default_start(dim: int) -> Tensor:
    """`defaultStart` of lanczos.ts: xorshift32 values in (−1, 1), the same for every call of one dimension
    (JavaScript's int32 arithmetic reproduced; cached per dimension: it is a Python loop)."""
    cached = _starts.get(dim)
    if cached is not None:
        return cached.clone()
    out: List[float] = [0.0] * dim
    s = 0x9E3779B9
    for i in range(dim):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        s &= 0xFFFFFFFF
        out[i] = (s / 2**32) * 2 - 1
    t = torch.tensor(out, dtype=torch.float64)
    if len(_starts) < 8:
        _starts[dim] = t
    return t.clone()


@dataclass
class LanczosResult:
    #: The largest Ritz values, descending (at most `count`).
    values: List[float]
    #: ‖A y − θ y‖ of each (unit) Ritz vector: an eigenvalue of A lies within it.
    residuals: List[float]
    #: The Ritz vector of the largest value (unit length).
    vector: Tensor
    #: Products with A performed.
    iterations: int


def lanczos_top(apply: Operator, dim: int, count: int = 1, max_iterations: int = 30, tolerance: float = 1e-3, start: Optional[Tensor] = None, device: Optional[torch.device] = None) -> LanczosResult:
    """`lanczosTop` of lanczos.ts: stop once the top `count` residuals are ≤ tolerance·|θ₁|, the
    Krylov space is invariant, or after `max_iterations` products (capped at `dim`)."""
    if dim < 1:
        raise ValueError(f"lanczos: dimension must be ≥ 1, got {dim}")
    count = max(1, min(count, dim))
    max_it = max(1, min(max_iterations, dim))
    q = (start.clone().double() if start is not None else default_start(dim)).to(device or "cpu")
    if q.numel() != dim:
        raise ValueError(f"lanczos: start vector has {q.numel()} entries, expected {dim}")
    n0 = float(q.norm())
    if not n0 > 0:
        raise ValueError("lanczos: the start vector is zero")
    q = q / n0
    Q: List[Tensor] = [q]
    alpha: List[float] = []
    beta: List[float] = []
    values: List[float] = [0.0]
    residuals: List[float] = [float("inf")]
    vectors = torch.ones(1, 1, dtype=torch.float64)
    for j in range(max_it):
        w = apply(Q[j]).to(q.device, torch.float64).reshape(-1).clone()
        if w.numel() != dim:
            raise ValueError(f"lanczos: the operator returned {w.numel()} entries, expected {dim}")
        alpha.append(float(w @ Q[j]))
        # Full reorthogonalization, twice ("twice is enough"): ghosts of converged values otherwise.
        basis = torch.stack(Q)
        for _ in range(2):
            w -= basis.T @ (basis @ w)
        b = float(w.norm())
        m = j + 1
        T = torch.diag(torch.tensor(alpha, dtype=torch.float64))
        if m > 1:
            off = torch.tensor(beta, dtype=torch.float64)
            T += torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        order = torch.argsort(evals, descending=True)
        values = evals[order].tolist()
        vectors = evecs[:, order]
        # The last component of each Ritz vector times β_m bounds ‖A y − θ y‖.
        residuals = (b * vectors[m - 1, :]).abs().tolist()
        top = abs(values[0])
        k = min(count, m)
        converged = m >= count and all(r <= tolerance * max(top, 1e-300) for r in residuals[:k])
        if converged or b <= 1e-12 * max(top, 1) or m == max_it:
            break
        beta.append(b)
        Q.append(w / b)
    basis = torch.stack(Q[: vectors.shape[0]])
    vector = basis.T @ vectors[:, 0].to(basis.device)
    k = min(count, len(values))
    return LanczosResult(values[:k], residuals[:k], vector, len(alpha))
