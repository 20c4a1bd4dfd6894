"""The empirical neural tangent kernel on a probe set and the measures read from it, as
src/trainer/methods/ntk.ts and src/measures/kernels.ts define them (docs/analyses.md, "Kernel"):

- K(x, x′) = Σ_c ∇_w f_c(x) · ∇_w f_c(x′), the trace over outputs, every trainable parameter;
  exact up to 128 outputs, beyond that a Hutchinson estimate with 64 Rademacher output
  directions from a fixed seed (the same at every checkpoint, so an unchanged model has distance 0);
- kernel distance S = 1 − ⟨K_t, K_0⟩_F / (‖K_t‖_F ‖K_0‖_F) (Fort et al. 2020);
- centred kernel–target alignment ⟨CKC, CYYᵀC⟩_F / (‖CKC‖_F ‖CYYᵀC‖_F) (Baratin et al. 2021).

The per-example Jacobians come from `torch.func` (`vmap` over examples of `jacrev`) on torch 2.x,
`functorch` on 1.13; a model whose forward pass vmap cannot batch (`F.one_hot`, `.item()`) gets
the same Jacobians one example at a time. Memory is bounded: the Jacobian of a block of output directions over a
block of examples is at most JACOBIAN_BYTES, accumulated into K block by block; nothing bigger
than one such block and the n × n kernel is ever held. Everything runs on the model's device;
the measures are taken in float64.
"""

from __future__ import annotations

import math
import weakref
from typing import Callable, Dict, List, Optional, Tuple

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
#: Models whose forward pass vmap cannot batch over examples (found on first use).
_NO_VMAP: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()
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
    the exact trace over outputs; scaled Rademacher rows: Hutchinson), [n, n] float64 on x's device,
    over every trainable parameter: the factored path for the `nn.Linear` / `nn.Embedding` weights
    it can verify, per-example Jacobians for the rest."""
    with torch.enable_grad():
        kernel, rest = factored_ntk(model, x, directions)
    if rest:
        kernel += jacobian_ntk(model, x, directions, rest, max_bytes)
    return kernel


def jacobian_ntk(model: nn.Module, x: torch.Tensor, directions: torch.Tensor, names: Optional[List[str]] = None, max_bytes: int = JACOBIAN_BYTES) -> torch.Tensor:
    """The kernel of the parameters `names` (all trainable ones when None) from per-example
    Jacobians. The model is evaluated one example at a time under vmap, so it sees batches of one."""
    all_params = {k: v.detach() for k, v in model.named_parameters()}
    wanted = [k for k, v in model.named_parameters() if v.requires_grad] if names is None else names
    params = {k: all_params[k] for k in wanted}
    fixed = {k: v for k, v in all_params.items() if k not in params}
    buffers = {**{k: v.detach() for k, v in model.named_buffers()}, **fixed}
    size = max(1, sum(p.numel() for p in params.values()))
    n = int(x.shape[0])
    s_total = int(directions.shape[0])
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def jacobian(v: torch.Tensor, rows: slice) -> torch.Tensor:
        """[examples, directions, P] for the examples `rows`: every parameter flattened side by side."""

        def f(p: Dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
            # One dict (torch 1.13's functional_call takes no tuple of dicts).
            out = functional_call(model, {**buffers, **p}, (xi.unsqueeze(0),))
            return v @ out.reshape(-1)

        xs = x[rows]
        if model not in _NO_VMAP:
            try:
                j = vmap(jacrev(f), in_dims=(None, 0))(params, xs)
                return torch.cat([t.reshape(t.shape[0], t.shape[1], -1) for t in j.values()], dim=2)
            except RuntimeError as e:
                if "vmap" not in str(e):
                    raise
                # An op vmap cannot batch (F.one_hot, .item(), data-dependent control flow):
                # the same Jacobians one example at a time.
                _NO_VMAP.add(model)
        per = [jacrev(f)(params, xs[i]) for i in range(xs.shape[0])]
        return torch.stack([torch.cat([t.reshape(t.shape[0], -1) for t in j.values()], dim=1) for j in per])

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


#: Rows of the replicated probe batch per factored pass (ntk.ts MAX_ROWS).
MAX_ROWS = 8192


def factored_ntk(model: nn.Module, x: torch.Tensor, directions: torch.Tensor, max_rows: int = MAX_ROWS) -> Tuple[torch.Tensor, List[str]]:
    """The kernel of the weights and biases of `nn.Linear` and the tables of `nn.Embedding`, without
    per-example gradients (src/trainer/methods/tap.ts and ntk.ts, the same algebra): example i's
    gradient of a linear layer is Σ_t x_it δ_itᵀ (t = the rows it contributes: 1 in an MLP, its
    positions in a sequence model), so ⟨g_i, g_j⟩ = Σ_{t,t′} (x_it·x_jt′)(δ_it·δ_jt′), a Hadamard
    product of Gram matrices. The probe set is replicated once per output direction in one batch
    (replica r seeds v_r·f), so one forward and one backward pass serve many directions.

    A module's factors are used only when they reproduce autograd's gradient of its parameters
    over the batch (a weight also used outside its module — tied embeddings — would not) and its
    calls are batch-first; every other trainable parameter is returned in the list, for
    `jacobian_ntk`. The model must treat examples independently (eval mode: no batch statistics)."""
    n = int(x.shape[0])
    s_total = int(directions.shape[0])
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    candidates = {
        name: m for name, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Embedding)) and m.weight.requires_grad
    }
    if not candidates:
        return kernel, list(trainable)
    prefix = lambda name: f"{name}." if name else ""  # noqa: E731
    covered: Optional[List[str]] = None  # module names, decided on the first pass
    group = max(1, max_rows // n)
    for g0 in range(0, s_total, group):
        v = directions[g0 : g0 + group]
        r = int(v.shape[0])
        rows = r * n
        calls: Dict[str, List[list]] = {name: [] for name in candidates}

        def hook(m: nn.Module, inputs: tuple, out: torch.Tensor, name: str) -> None:
            if not inputs or not isinstance(out, torch.Tensor) or not out.requires_grad:
                return
            rec = [inputs[0].detach(), None]
            calls[name].append(rec)
            out.register_hook(lambda g, rec=rec: rec.__setitem__(1, g.detach()))

        handles = [m.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name)) for name, m in candidates.items()]
        try:
            xr = x.repeat(r, *([1] * (x.dim() - 1)))
            out = model(xr)
            seed = (out.reshape(r, n, -1) * v[:, None, :].to(out.dtype)).sum()
            # Gradients of every trainable parameter: they fire the hooks (δ), and on the first pass
            # they check the factors.
            grads = torch.autograd.grad(seed, list(trainable.values()), allow_unused=True)
        finally:
            for h in handles:
                h.remove()
        if covered is None:
            by_name = dict(zip(trainable, grads or ()))
            covered = [name for name, m in candidates.items() if _factors_match(m, calls[name], rows, by_name, prefix(name))]
        del grads
        for name in covered:
            kernel += _module_gram(candidates[name], calls[name], n, r)
    covered_params = {prefix(name) + p for name in covered or [] for p, q in candidates[name].named_parameters(recurse=False) if q.requires_grad}
    return kernel, [k for k in trainable if k not in covered_params]


def _factors(m: nn.Module, recs: List[list], rows: int) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """Inputs [rows, T, in] (or indices [rows, T]) and output gradients [rows, T, out] of a module's
    calls laid side by side along T; None when a call is not batch-first or has no gradient."""
    xs, ds = [], []
    for inp, delta in recs:
        if delta is None or inp.shape[0] != rows or delta.shape[0] != rows:
            return None
        if isinstance(m, nn.Embedding):
            xs.append(inp.reshape(rows, -1))
        else:
            xs.append(inp.reshape(rows, -1, inp.shape[-1]))
        ds.append(delta.reshape(rows, -1, delta.shape[-1]))
    if not xs:
        return None
    return torch.cat(xs, 1), torch.cat(ds, 1)


def _factors_match(m: nn.Module, recs: List[list], rows: int, grads: Dict[str, Optional[torch.Tensor]], prefix: str) -> bool:
    """True when the factors give autograd's batch gradient of every trainable parameter of the module."""
    f = _factors(m, recs, rows)
    if f is None:
        return False
    xs, ds = f
    d2 = ds.reshape(-1, ds.shape[-1]).double()
    own = {k: p for k, p in m.named_parameters(recurse=False) if p.requires_grad}
    if set(own) - {"weight", "bias"}:
        return False
    for k in own:
        g = grads.get(prefix + k)
        if g is None:
            return False
        if k == "bias":
            mine = d2.sum(0)
        elif isinstance(m, nn.Embedding):
            mine = torch.zeros(m.weight.shape, dtype=torch.float64, device=d2.device).index_add_(0, xs.reshape(-1).long(), d2)
        else:
            mine = d2.T @ xs.reshape(-1, xs.shape[-1]).double()
        scale = float(g.double().abs().max()) + 1e-30
        if float((mine - g.double()).abs().max()) > 1e-4 * scale:
            return False
    return True


def _module_gram(m: nn.Module, recs: List[list], n: int, r: int) -> torch.Tensor:
    """Σ over the module's trainable parameters and the r directions of ⟨g_i, g_j⟩, [n, n] float64."""
    f = _factors(m, recs, r * n)
    assert f is not None
    xs, ds = f
    steps = int(ds.shape[1])
    # δ of the r replicas side by side: [n·T, r·out]; the inputs are the same in every replica.
    side = ds.reshape(r, n, steps, -1).permute(1, 2, 0, 3).reshape(n * steps, -1).double()
    out = torch.zeros(n, n, dtype=torch.float64, device=ds.device)
    if m.weight.requires_grad:
        gd = side @ side.T
        if isinstance(m, nn.Embedding):
            idx = xs[:n].reshape(-1)
            gx = (idx[:, None] == idx[None, :]).double()
        else:
            x0 = xs[:n].reshape(n * steps, -1).double()
            gx = x0 @ x0.T
        out += (gx * gd).reshape(n, steps, n, steps).sum((1, 3))
    bias = getattr(m, "bias", None)
    if isinstance(bias, torch.Tensor) and bias.requires_grad:
        summed = ds.sum(1).reshape(r, n, -1).permute(1, 0, 2).reshape(n, -1).double()
        out += summed @ summed.T
    return out


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
