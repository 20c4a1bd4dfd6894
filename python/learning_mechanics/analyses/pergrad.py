"""Per-example gradients of a researcher's PyTorch model and their LoGra projection, the twin of
src/trainer/methods/perExample.ts (docs/analyses.md, "TracIn").

The projection is the TypeScript one, matrix for matrix: a linear layer's per-example gradient G
([in, out] in the checkpoint layout) becomes P_inᵀ G P_out, a [k_in', k_out'] block, with P_in
[in, k] and P_out [out, k] drawn N(0, 1/k) from the project's seeded generator keyed by
(seed, "logra", parameter name, side). A side no wider than k is not projected (identity), a bias
is a layer with input 1 (its output side only), and every other parameter shares one plain JL
matrix [Σ sizes, k_fallback] keyed by the names joined with ",". Rows are laid out as the
TypeScript rows: linear layers in parameter order, then one fallback block. So the same weights,
examples and seed give the same projected gradients on both sides, within float rounding.

What is a "linear layer" is read from the module structure, not from names (`param_roles`):
`nn.Linear` (weight [out, in]), `nn.Embedding` (a one-hot input: [rows, dim]), and the built-in
models' twins of learning_mechanics.models ([in, out] weights, tables, MLP biases). Anything else
(LayerNorm, convolutions, bare parameters) is "fallback", as parameters the TypeScript tap does
not see are.

The full per-example gradient is never needed for TracIn: a projected dot product
⟨P_inᵀ G P_out, Q⟩ equals ⟨G, P_in Q P_outᵀ⟩, so the query's projected mean gradient is lifted
back to parameter space once (`Projection.lift`) and every training example's score is the
directional derivative of its loss along that vector, one forward-mode pass (`gradient_dots`,
`torch.autograd.forward_ad`).
`per_example_grads` (torch.func `vmap(grad)`, functorch on torch 1.13) materializes them, in
chunks, for the few examples whose projection error is measured and for tests.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor, nn

from ..rng import Rng

try:  # torch ≥ 2.0
    from torch.func import functional_call, grad, vmap
except ImportError:  # torch 1.13 (Debian's python3-torch) ships the same transforms as functorch
    from functorch import grad, vmap  # type: ignore[no-redef]
    from torch.nn.utils.stateless import functional_call  # type: ignore[no-redef]

LossFn = Callable[[Tensor, Tensor], Tensor]
"""`loss_fn(output, target)`: the batch's mean loss (a scalar, as `nn.CrossEntropyLoss()` returns)
or one loss per example (shape [n]). A mean must be the mean of per-example terms (true of
cross-entropy and of mean squared error), since n · mean is taken as the sum."""

DEFAULT_CHUNK = 4096
"""Examples per pass (as perExample.ts): bounds the activations and their tangents held at once.
On the grokking MLP's training pass (CPU time): 512 → 34 ms, 1024 → 27 ms, 4096 → 25 ms."""


# ---------------------------------------------------------------- the TypeScript generator's normals


def normals(seed: int, labels: Sequence[str], n: int, std: float) -> Tensor:
    """`new Rng(seed, ...labels).normals(n, std)` of src/sdk/rng.ts as float32: Box–Muller with the
    second value of each pair cached, computed in doubles in the same order, then rounded.

    The generator's step (rng.py `Rng.next_uint32`) is inlined on local variables: the projection
    of a wide model draws millions of these (1M: 2.8 s CPU with the method calls, 1.7 s inlined)."""
    r = Rng(seed, *labels)
    s0, s1, s2, s3 = r.s0, r.s1, r.s2, r.s3
    mask = 0xFFFFFFFF
    out: List[float] = [0.0] * (n + 1)
    two_pi = 2 * math.pi
    for i in range(0, n, 2):
        while True:
            # result = rotl(s1 * 5, 7) * 9, then the xoshiro128 state update (32-bit wrapping)
            a = (s1 * 5) & mask
            u32 = ((((a << 7) | (a >> 25)) & mask) * 9) & mask
            t = (s1 << 9) & mask
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = ((s3 << 11) | (s3 >> 21)) & mask
            if u32 != 0:  # u = 0 is drawn again, as in Rng.normal
                break
        a = (s1 * 5) & mask
        v32 = ((((a << 7) | (a >> 25)) & mask) * 9) & mask
        t = (s1 << 9) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 11) | (s3 >> 21)) & mask
        rad = math.sqrt(-2 * math.log(u32 / 4294967296))
        angle = two_pi * (v32 / 4294967296)
        out[i] = rad * math.cos(angle) * std
        out[i + 1] = rad * math.sin(angle) * std
    return torch.tensor(out[:n], dtype=torch.float32)


# ---------------------------------------------------------------- which parameters are linear layers


@dataclass(frozen=True)
class ParamRole:
    """How a parameter's gradient is projected.

    kind "linear": a weight with an input side of `in_dim` rows and an output side of `out_dim`
    (`transposed` when the tensor is stored [out, in], as nn.Linear's); "bias": output side only;
    "fallback": part of the shared JL block (in_dim = its number of entries).
    """

    name: str
    kind: str
    in_dim: int
    out_dim: int
    transposed: bool = False


def _builtin_modules() -> Tuple[type, ...]:
    from .. import models as builtin

    return (builtin.Linear, builtin.Table, builtin.Attention, builtin.Mlp)


def _role(module: nn.Module, name: str, local: str, p: Tensor, builtin: Tuple[type, ...]) -> ParamRole:
    if isinstance(module, nn.Linear):
        if local == "weight":
            return ParamRole(name, "linear", p.shape[1], p.shape[0], transposed=True)
        return ParamRole(name, "bias", 1, p.shape[0])
    if isinstance(module, nn.Embedding) and local == "weight":
        return ParamRole(name, "linear", p.shape[0], p.shape[1])
    if isinstance(module, builtin):
        # learning_mechanics.models keeps the checkpoint's [in, out] layout (y = x @ W + b).
        if p.dim() == 2:
            return ParamRole(name, "linear", p.shape[0], p.shape[1])
        if p.dim() == 1:
            return ParamRole(name, "bias", 1, p.shape[0])
    return ParamRole(name, "fallback", p.numel(), 1)


def param_roles(model: nn.Module, names: Optional[Sequence[str]] = None) -> List[ParamRole]:
    """The role of each trainable parameter (or of `names`), in `named_parameters()` order (the
    checkpoint order, which fixes the row layout). The built-in transformer's positional table is
    added to the stream, not multiplied, so it is fallback there as in the TypeScript tap."""
    from .. import models as builtin

    kinds = _builtin_modules()
    positional = {id(m.pos.weight) for m in model.modules() if isinstance(m, builtin.Transformer)}
    roles: Dict[str, ParamRole] = {}
    by_id: Dict[int, str] = {id(p): n for n, p in model.named_parameters()}
    for prefix, module in model.named_modules():
        for local, p in module.named_parameters(recurse=False):
            name = by_id.get(id(p))
            if name is None or name in roles:
                continue  # a shared parameter takes the role of its first (named_parameters) owner
            roles[name] = (
                ParamRole(name, "fallback", p.numel(), 1)
                if id(p) in positional
                else _role(module, name, local, p, kinds)
            )
    wanted = [n for n, p in model.named_parameters() if p.requires_grad] if names is None else list(names)
    missing = [n for n in wanted if n not in roles]
    if missing:
        raise ValueError(f"per-example gradients: the model has no parameter named {', '.join(missing)}")
    return [roles[n] for n in wanted]


# ---------------------------------------------------------------- the projection


@dataclass(frozen=True)
class Block:
    """Where a parameter's projected gradient sits in a row (perExample.ts `GradientBlock`)."""

    name: str
    kind: str  # "tap" (a linear layer or bias) or "fallback" (every fallback parameter together)
    offset: int
    size: int


class Projection:
    """The projection of perExample.ts for a fixed list of parameters. Holds its matrices: create one
    per analysis and reuse it for every checkpoint, so all use the same projection.

    `k_in`/`k_out`/`k_fallback` None means exact (identity, the full gradient)."""

    def __init__(
        self,
        roles: Sequence[ParamRole],
        seed: int = 0,
        k_in: Optional[int] = None,
        k_out: Optional[int] = None,
        k_fallback: Optional[int] = None,
        device: Optional[torch.device] = None,
    ) -> None:
        for key, k in (("k_in", k_in), ("k_out", k_out), ("k_fallback", k_fallback)):
            if k is not None and (not isinstance(k, int) or k < 1):
                raise ValueError(f"projection: {key} must be a positive integer, got {k!r}")
        self.roles = list(roles)
        self.seed = int(seed)
        self.k_in, self.k_out, self.k_fallback = k_in, k_out, k_fallback
        self.device = device if device is not None else torch.device("cpu")
        self._matrices: Dict[Tuple[str, str], Optional[Tensor]] = {}
        self.tapped = [r for r in self.roles if r.kind != "fallback"]
        self.fallback = [r for r in self.roles if r.kind == "fallback"]
        blocks: List[Block] = []
        offset = 0
        for r in self.tapped:
            size = self._width(r.in_dim, self.k_in, r.kind == "bias") * self._width(r.out_dim, self.k_out, False)
            blocks.append(Block(r.name, "tap", offset, size))
            offset += size
        if self.fallback:
            total = sum(r.in_dim for r in self.fallback)
            size = total if k_fallback is None or total <= k_fallback else k_fallback
            blocks.append(Block(",".join(r.name for r in self.fallback), "fallback", offset, size))
            offset += size
        self.blocks = blocks
        self.dim = offset

    @classmethod
    def logra(cls, model: nn.Module, k: int, seed: int, names: Optional[Sequence[str]] = None) -> "Projection":
        """TracIn's projection (tracinAnalysis.ts): k × k per linear layer, k² for the fallback block,
        on the model's device."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"tracin.projectionDim must be a positive integer, got {k!r}")
        return cls(param_roles(model, names), seed, k, k, k * k, _device_of(model))

    @classmethod
    def exact(cls, model: nn.Module, names: Optional[Sequence[str]] = None) -> "Projection":
        return cls(param_roles(model, names), device=_device_of(model))

    @staticmethod
    def _width(dim: int, k: Optional[int], bias_input: bool) -> int:
        if bias_input:
            return 1
        return dim if k is None else min(dim, k)

    def matrix(self, name: str, side: str, rows: int, k: Optional[int]) -> Optional[Tensor]:
        """N(0, 1/k) [rows, k] for (name, side), or None when that side is not projected."""
        if k is None or rows <= k:
            return None
        key = (name, side)
        if key not in self._matrices:
            m = normals(self.seed, ["logra", name, side], rows * k, 1 / math.sqrt(k)).reshape(rows, k)
            self._matrices[key] = m.to(self.device)
        return self._matrices[key]

    def _p_in(self, r: ParamRole) -> Optional[Tensor]:
        return None if r.kind == "bias" else self.matrix(r.name, "in", r.in_dim, self.k_in)

    def _p_out(self, r: ParamRole) -> Optional[Tensor]:
        return self.matrix(r.name, "out", r.out_dim, self.k_out)

    def _p_fallback(self) -> Optional[Tensor]:
        total = sum(r.in_dim for r in self.fallback)
        return self.matrix(",".join(r.name for r in self.fallback), "fallback", total, self.k_fallback)

    def project(self, grads: Mapping[str, Tensor]) -> Tensor:
        """Rows [n, dim] of per-example gradients given per parameter as [n, *shape] (the layout of
        perExample.ts `perExample`)."""
        parts: List[Tensor] = []
        n = -1
        for r in self.tapped:
            g = grads[r.name]
            n = g.shape[0]
            # Two plain 2-D products (a batched one with a broadcast matrix ran at a third of the speed):
            # G as [n, out, in] → · P_in → [n, out, k_in'] → transposed · P_out → [n, k_in', k_out'].
            if r.kind == "bias":
                b = g.reshape(n, 1, r.out_dim)
            else:
                b = g.reshape(n, r.out_dim, r.in_dim) if r.transposed else g.reshape(n, r.in_dim, r.out_dim).transpose(1, 2)
                p_in = self._p_in(r)
                if p_in is not None:
                    b = (b.reshape(n * r.out_dim, r.in_dim) @ p_in.to(b.dtype)).reshape(n, r.out_dim, -1)
                b = b.transpose(1, 2)
            p_out = self._p_out(r)
            if p_out is not None:
                k_in = b.shape[1]
                b = (b.reshape(n * k_in, r.out_dim) @ p_out.to(b.dtype)).reshape(n, k_in, -1)
            parts.append(b.reshape(n, -1))
        if self.fallback:
            flat = torch.cat([grads[r.name].reshape(grads[r.name].shape[0], -1) for r in self.fallback], 1)
            p = self._p_fallback()
            parts.append(flat @ p.to(flat.dtype) if p is not None else flat)
        return torch.cat(parts, 1)

    def project_one(self, grads: Mapping[str, Tensor]) -> Tensor:
        """One gradient (per parameter, shaped like it) as a projected vector [dim]."""
        return self.project({k: v.unsqueeze(0) for k, v in grads.items()})[0]

    def lift(self, v: Tensor) -> Dict[str, Tensor]:
        """The vector u in parameter space (per parameter, shaped like it) with ⟨G, u⟩ =
        ⟨project(G), v⟩ for every gradient G: per linear layer P_in V P_outᵀ."""
        if v.shape != (self.dim,):
            raise ValueError(f"lift: vector has shape {tuple(v.shape)}, the projection has width {self.dim}")
        out: Dict[str, Tensor] = {}
        for r, blk in zip(self.tapped, self.blocks):
            part = v[blk.offset : blk.offset + blk.size]
            p_in, p_out = self._p_in(r), self._p_out(r)
            k_out = r.out_dim if p_out is None else p_out.shape[1]
            m = part.reshape(-1, k_out)
            if p_out is not None:
                m = m @ p_out.to(m.dtype).T
            if r.kind == "bias":
                out[r.name] = m.reshape(r.out_dim)
                continue
            if p_in is not None:
                m = p_in.to(m.dtype) @ m
            out[r.name] = (m.T if r.transposed else m).contiguous()
        if self.fallback:
            blk = self.blocks[-1]
            part = v[blk.offset : blk.offset + blk.size]
            p = self._p_fallback()
            flat = p.to(part.dtype) @ part if p is not None else part
            start = 0
            for r in self.fallback:
                out[r.name] = flat[start : start + r.in_dim]
                start += r.in_dim
        return out


# ---------------------------------------------------------------- gradients


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode for the duration: dropout noise or batch statistics would make an
    example's gradient depend on its batch (the TypeScript models have neither)."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def loss_sum(loss_fn: LossFn, out: Tensor, y: Tensor) -> Tensor:
    """Σ_i ℓ_i over a batch, from a mean or from per-example losses (see `LossFn`)."""
    r = loss_fn(out, y)
    if r.dim() == 0:
        return r * out.shape[0]
    if r.shape == (out.shape[0],):
        return r.sum()
    raise ValueError(_loss_shape_message(r, out.shape[0]))


def per_example_losses(loss_fn: LossFn, out: Tensor, y: Tensor) -> Tensor:
    """ℓ_i [n]: loss_fn's own per-example losses, or (a mean loss_fn) loss_fn on each example alone."""
    n = out.shape[0]
    r = loss_fn(out, y)
    if r.dim() == 1 and r.shape[0] == n:
        return r
    if r.dim() == 0:
        return vmap(lambda o, t: loss_fn(o.unsqueeze(0), t.unsqueeze(0)))(out, y)
    raise ValueError(_loss_shape_message(r, n))


def _loss_shape_message(r: Tensor, n: int) -> str:
    return (
        f"loss_fn must return the batch's mean loss (a scalar) or one loss per example (shape [{n}]), "
        f"got shape {list(r.shape)}"
    )


def _params(model: nn.Module, names: Optional[Sequence[str]]) -> Dict[str, Tensor]:
    named = dict(model.named_parameters())
    wanted = [n for n, p in named.items() if p.requires_grad] if names is None else list(names)
    return {n: named[n].detach() for n in wanted}


def _batches(x: Tensor, y: Tensor, chunk: int, device: torch.device) -> Iterator[Tuple[Tensor, Tensor]]:
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"inputs have {x.shape[0]} examples but targets have {y.shape[0]}")
    for start in range(0, x.shape[0], chunk):
        yield x[start : start + chunk].to(device), y[start : start + chunk].to(device)


def per_example_grads(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    names: Optional[Sequence[str]] = None,
    chunk: int = 256,
) -> Iterator[Dict[str, Tensor]]:
    """Exact per-example gradients ∇_w ℓ_i, `chunk` examples at a time: per chunk a dict name →
    [c, *param.shape] (the trainable parameters, or `names`). `vmap(grad)` over a functional call
    of the model, so one batched pass per chunk; memory c × (number of parameters)."""
    params = _params(model, names)
    device = _device_of(model)

    def one(p: Dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return loss_sum(loss_fn, out, yi.unsqueeze(0))

    batched = vmap(grad(one), in_dims=(None, 0, 0))
    for xb, yb in _batches(x, y, chunk, device):
        try:
            yield batched(params, xb, yb)
        except RuntimeError:
            # A model vmap cannot batch (in-place updates of buffers, .item(), data-dependent
            # control flow): the same gradients one example at a time.
            yield _looped_grads(model, loss_fn, xb, yb, list(params))


def _looped_grads(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, names: List[str]) -> Dict[str, Tensor]:
    named = dict(model.named_parameters())
    tensors = [named[n] for n in names]
    rows: List[Tuple[Tensor, ...]] = []
    for i in range(x.shape[0]):
        gs = torch.autograd.grad(loss_sum(loss_fn, model(x[i : i + 1]), y[i : i + 1]), tensors, allow_unused=True)
        rows.append(tuple(torch.zeros_like(t) if g is None else g for g, t in zip(gs, tensors)))
    return {n: torch.stack([r[k] for r in rows]) for k, n in enumerate(names)}


def mean_gradient(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    names: Optional[Sequence[str]] = None,
    chunk: int = DEFAULT_CHUNK,
) -> Dict[str, Tensor]:
    """(1/m) Σ_i ∇ℓ_i over the examples: ordinary backward passes, chunked (TracIn's q̄ before projection)."""
    named = dict(model.named_parameters())
    wanted = [n for n, p in named.items() if p.requires_grad] if names is None else list(names)
    tensors = [named[n] for n in wanted]
    total = [torch.zeros_like(t) for t in tensors]
    m = x.shape[0]
    if m == 0:
        raise ValueError("the query set is empty")
    for xb, yb in _batches(x, y, chunk, _device_of(model)):
        gs = torch.autograd.grad(loss_sum(loss_fn, model(xb), yb), tensors, allow_unused=True)
        for acc, g in zip(total, gs):
            if g is not None:
                acc.add_(g)
    return {n: t / m for n, t in zip(wanted, total)}


def gradient_dots(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    direction: Mapping[str, Tensor],
    chunk: int = DEFAULT_CHUNK,
) -> Tensor:
    """∇ℓ_i · u for every example [n], u given per parameter (missing parameters count as 0): the
    directional derivative of each example's loss along u, so no per-example gradient is formed.

    Per chunk: one forward-mode pass through the model (dual weights w + εu) gives the outputs o_i
    and their tangents ȯ_i; then ∂ℓ_i/∂o_i for every row comes from one backward of Σ_i ℓ_i to the
    outputs (row i of that gradient involves example i alone), and the score is ∂ℓ_i/∂o_i · ȯ_i.
    Plain `torch.autograd.forward_ad` costs about one forward+backward here; functorch's `jvp`
    through the loss was 1.4x (CPU time, bench/tracin_torch.py)."""
    params = _params(model, list(direction.keys()))
    out: List[Tensor] = []
    for xb, yb in _batches(x, y, chunk, _device_of(model)):
        try:
            with fwAD.dual_level():
                duals = {n: fwAD.make_dual(p, direction[n].to(p.dtype)) for n, p in params.items()}
                primal, tangent = fwAD.unpack_dual(functional_call(model, duals, (xb,)))
                primal, tangent = primal.detach(), tangent.detach() if tangent is not None else None
        except NotImplementedError:
            # An op without a forward-mode formula (a custom autograd.Function with no jvp).
            out.append(_dots_by_double_backward(model, loss_fn, xb, yb, direction))
            continue
        if tangent is None:  # the output does not depend on the parameters along u
            out.append(torch.zeros(xb.shape[0], device=primal.device))
            continue
        o = primal.requires_grad_(True)
        (d_out,) = torch.autograd.grad(loss_sum(loss_fn, o, yb), o)
        out.append((d_out * tangent).reshape(xb.shape[0], -1).sum(1))
    return torch.cat(out) if out else torch.zeros(0)


def _dots_by_double_backward(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, direction: Mapping[str, Tensor]
) -> Tensor:
    """∇ℓ_i · u by reverse mode only: with c = 1 ∈ R^n, ∂/∂c_i of (∇_w Σ_i c_i ℓ_i) · u. About twice
    the cost of the forward-mode pass; used when a model's op has no forward-mode formula."""
    named = dict(model.named_parameters())
    names = [n for n in direction if named[n].requires_grad]
    c = torch.ones(x.shape[0], device=x.device, requires_grad=True)
    losses = per_example_losses(loss_fn, model(x), y)
    gs = torch.autograd.grad((c * losses).sum(), [named[n] for n in names], create_graph=True, allow_unused=True)
    total = sum(((g * direction[n]).sum() for g, n in zip(gs, names) if g is not None), torch.zeros((), device=x.device))
    if not total.requires_grad:
        return torch.zeros(x.shape[0], device=x.device)
    (dots,) = torch.autograd.grad(total, c)
    return dots.detach()
