"""Conservation laws from symmetries for a PyTorch model (Kunin et al. 2021; docs/analyses.md,
"Conservation laws"), writing the `conservation.jsonl` record of
src/trainer/analyzer/conservationAnalysis.ts with the formulas of src/measures/conservation.ts
(quantities, decay factor, prediction, drift), ported one to one.

What differs is how the symmetries are found. The TypeScript analyzer sees only a state dict and
run.json (so it needs `activation` and `loss` in the config); here the model itself is at hand:

- **candidates from the module structure**: the linear maps (`nn.Linear`, stored [out, in]; the
  built-in models' `Linear`, [in, out]) and normalization layers (`nn.LayerNorm`, `nn.BatchNorm*`)
  in registration order. Between consecutive linear maps, the activation modules registered in
  between (ReLU, LeakyReLU, PReLU, Identity, Dropout: degree 1; Tanh, GELU, Sigmoid, SiLU, ... :
  none) or the built-in MLP's `activation`; a linear map followed by a normalization of its width
  is a scale candidate; the last linear map is the readout;
- **each candidate checked numerically** on up to 32 training examples: the symmetry's
  transformation applied with random factors (per hidden unit α ∈ [0.8, 1.25] on the incoming
  weights and bias, α^−k on the outgoing; α on everything before a normalization; a random vector
  added to every class's readout weights) must leave the outputs (the per-example losses, for the
  translation) unchanged to 1e-3 relative. So an activation applied functionally (`F.relu` in
  `forward`, invisible to the module tree) is found as well, a `F.tanh` between two layers is
  refused, and the translation is there exactly when `loss_fn` is invariant to a shift of the
  logits (softmax cross-entropy), whatever the loss is called. What was not found, and why, is in
  the record's `notes`.

The optimizer (for the prediction) is read as the TypeScript analyzer reads it (optim_state.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .optim_state import NoOptimizer, Optimization, OptimizerInfo, _js_number
from .pergrad import LossFn, per_example_losses

# ---------------------------------------------------------------- laws (src/measures/conservation.ts)


@dataclass(frozen=True)
class Part:
    """Where a law reads one tensor: entry c along `axis` belongs to unit `offset + c mod units`."""

    tensor: str
    axis: int
    units: int
    offset: int = 0


@dataclass(frozen=True)
class Law:
    #: "quadratic": Σ_plus ‖part_u‖² − degree·Σ_minus ‖part_u‖²; "linear": Σ_plus Σ part_u.
    form: str
    count: int
    plus: Tuple[Part, ...]
    minus: Tuple[Part, ...] = ()
    degree: int = 1


@dataclass(frozen=True)
class Symmetry:
    kind: str  # "rescale" | "translation" | "scale"
    layer: str
    law: Law


def _unit_index(part: Part, t: Tensor) -> Tensor:
    """The unit of every entry of `t` (a vector or a matrix), in t's shape."""
    rows, cols = (t.shape[0], 1) if t.dim() == 1 else (t.shape[0], t.shape[1])
    along = torch.arange(rows if part.axis == 0 else cols, device=t.device)
    u = part.offset + along % part.units
    return (u.view(-1, 1).expand(rows, cols) if part.axis == 0 else u.view(1, -1).expand(rows, cols)).reshape(t.shape)


def _tensor(params: Mapping[str, Tensor], part: Part, count: int) -> Tensor:
    t = params.get(part.tensor)
    if t is None:
        raise ValueError(f'the model has no parameter "{part.tensor}"')
    if t.dim() > 2:
        raise ValueError(f'"{part.tensor}" has shape {list(t.shape)}, not a vector or a matrix')
    if part.offset + part.units > count:
        raise ValueError(f'"{part.tensor}": units {part.offset}+{part.units} exceed the law\'s {count}')
    return t


def conserved_quantities(law: Law, params: Mapping[str, Tensor]) -> Tensor:
    """Q_u of `law` (float64, [count]) on the named tensors (`conservedQuantities`)."""
    q: Optional[Tensor] = None
    square = law.form == "quadratic"
    for parts, sign in ((law.plus, 1.0), (law.minus, -float(law.degree))):
        for part in parts:
            t = _tensor(params, part, law.count).detach().double()
            if q is None:
                q = torch.zeros(law.count, dtype=torch.float64, device=t.device)
            v = t * t if square else t
            q.index_add_(0, _unit_index(part, t).reshape(-1), v.reshape(-1) * sign)
    return q if q is not None else torch.zeros(law.count, dtype=torch.float64)


def decay_factor(opt: Optimization, lrs: Sequence[float]) -> Optional[float]:
    """a_k (`decayFactor`): ∏(1 − η_j λ) for AdamW and momentum-free SGD, the decay term's scalar
    recursion u ← μu + λa, a ← a − ηu (Nesterov a ← a − η(λa + μu)) with momentum; None for Adam or unknown."""
    if isinstance(opt, NoOptimizer) or opt.kind == "adam":
        return None
    lam = opt.weight_decay
    a = 1.0
    if opt.kind == "adamw":
        for eta in lrs:
            a *= 1 - eta * lam
        return a
    u = 0.0
    for eta in lrs:
        u = opt.momentum * u + lam * a
        a = a - eta * (lam * a + opt.momentum * u) if opt.nesterov else a - eta * u
    return a


def prediction_quality(opt: Optimization, form: str) -> str:
    if isinstance(opt, NoOptimizer):
        return "none"
    if opt.kind == "sgd":
        return "exact" if form == "linear" else "leading order"
    return "decay only" if opt.kind == "adamw" else "none"


def predicted_quantity(form: str, a: float, q0: Tensor) -> Tensor:
    return q0 * (a * a if form == "quadratic" else a)


def drift_of(q: Tensor, q0: Tensor, pred: Optional[Tensor]) -> Dict[str, Optional[float]]:
    """`driftOf`: ‖Q(t)‖, ΣQ(t), and the drift, predicted drift and residual relative to ‖Q(0)‖."""
    n0 = float(q0.norm())

    def rel(v: Tensor) -> Optional[float]:
        return float(v.norm()) / n0 if n0 > 0 else None

    return {
        "norm": float(q.norm()),
        "sum": float(q.sum()),
        "drift": rel(q - q0),
        "predicted": rel(pred - q0) if pred is not None else None,
        "residual": rel(q - pred) if pred is not None else None,
    }


def describe_law(o: Optimization) -> str:
    """The record's `law` in the words of conservationAnalysis.ts `describeLaw`."""
    if isinstance(o, NoOptimizer):
        return f"no prediction: {o.why}"
    wd = _js_number(o.weight_decay)
    if o.kind == "sgd":
        mom = f", momentum {_js_number(o.momentum)}{' (Nesterov)' if o.nesterov else ''}" if o.momentum > 0 else ""
        if o.weight_decay == 0:
            return f"SGD{mom}, no weight decay: Q(t) = Q(0) (gradient flow); at finite η the rescale and scale quantities move by η²(‖g_in‖² − k‖g_out‖²) per step (the residual). η from {o.source}"
        a = "a_t from u ← μu + λa, a ← a − ηu (a_0 = 1)" if o.momentum > 0 else "a_t = ∏_j (1 − η_j λ)"
        return f"SGD{mom}, coupled L2 λ = {wd}: quadratic Q(t) = a_t² Q(0), translation Q(t) = a_t Q(0), {a}; η from {o.source}"
    if o.kind == "adamw":
        return f"AdamW, decoupled decay λ = {wd}: the decay's share a_t² Q(0), a_t = ∏_j (1 − η_j λ); Adam's preconditioned step also moves Q at first order (not predicted). η from {o.source}"
    return "Adam: no prediction (the per-coordinate preconditioner breaks the symmetry's cancellation at first order)"


# ---------------------------------------------------------------- detection from the module structure

HOMOGENEOUS = {"relu": 1, "leakyrelu": 1, "prelu": 1, "linear": 1, "identity": 1, "none": 1, "quadratic": 2, "square": 2}
#: Activation modules that are not positively homogeneous (no rescale symmetry across them).
NOT_HOMOGENEOUS = {"tanh", "gelu", "sigmoid", "silu", "softplus", "elu", "selu", "celu", "mish", "hardtanh", "relu6", "softsign", "tanhshrink", "logsigmoid", "softmax", "logsoftmax", "hardswish", "hardsigmoid", "gelutanh"}
#: Modules that pass values through unchanged in eval mode (they do not break a chain of layers).
TRANSPARENT = (nn.Identity, nn.Dropout, nn.Flatten, nn.Unflatten)


def homogeneity(activation: str) -> Optional[int]:
    """k with σ(αz) = α^k σ(z) for α > 0, or None (symmetries.ts `homogeneity`)."""
    return HOMOGENEOUS.get("".join(c for c in activation.lower() if c.isalpha()))


@dataclass
class _Linear:
    name: str
    weight: str
    bias: Optional[str]
    out: int
    inp: int
    #: nn.Linear's [out, in] (units along rows) or the built-in models' [in, out].
    torch_layout: bool


@dataclass
class _Norm:
    name: str
    size: int
    batch: bool


@dataclass
class _Act:
    name: str
    degree: Optional[int]
    what: str


@dataclass
class Detection:
    symmetries: List[Symmetry] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def _structure(model: nn.Module) -> List[Any]:
    """The model's linear maps, normalizations and activations, in registration order."""
    from .. import models as builtin

    out: List[Any] = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            out.append(_Linear(name, _join(name, "weight"), _join(name, "bias") if m.bias is not None else None, m.out_features, m.in_features, True))
        elif isinstance(m, builtin.Linear):
            out.append(_Linear(name, _join(name, "weight"), _join(name, "bias") if m.bias is not None else None, m.weight.shape[1], m.weight.shape[0], False))
        elif isinstance(m, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
            size = int(m.normalized_shape[-1]) if isinstance(m, nn.LayerNorm) else int(m.num_features)
            out.append(_Norm(name, size, not isinstance(m, nn.LayerNorm)))
        elif isinstance(m, TRANSPARENT):
            continue
        elif name and (not list(m.children()) and not list(m.parameters(recurse=False)) or isinstance(m, nn.PReLU)):
            kind = type(m).__name__
            key = kind.lower()
            # A module of unknown kind is taken as degree 1 and left to the numerical check.
            out.append(_Act(name, None if key in NOT_HOMOGENEOUS else homogeneity(kind) or 1, kind))
        if isinstance(m, builtin.MLP):
            out.append(("activation", m.activation))
    return out


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _rows(t: str, units: int, offset: int = 0) -> Part:
    return Part(t, 0, units, offset)


def _cols(t: str, units: int, offset: int = 0) -> Part:
    return Part(t, 1, units, offset)


def _transform(law: Law, params: Mapping[str, Tensor], gen: torch.Generator) -> None:
    """Applies the symmetry's transformation to the parameters in place, with random factors per unit."""
    device = next(iter(params.values())).device
    if law.form == "linear":
        shift = (torch.rand(law.count, generator=gen, dtype=torch.float64) - 0.5).to(device)
        for part in law.plus:
            t = params[part.tensor]
            t.add_(shift[_unit_index(part, t)].to(t.dtype))
        return
    alpha = (0.8 + 0.45 * torch.rand(law.count, generator=gen, dtype=torch.float64)).to(device)
    for parts, power in ((law.plus, 1.0), (law.minus, -float(law.degree))):
        for part in parts:
            t = params[part.tensor]
            t.mul_(alpha[_unit_index(part, t)].pow(power).to(t.dtype))


def _close(a: Tensor, b: Tensor, tol: float = 1e-3) -> bool:
    if a.shape != b.shape or not bool(torch.isfinite(a).all()):
        return False
    scale = float(a.abs().max()) if a.numel() else 0.0
    return float((a - b).abs().max()) <= tol * max(scale, 1e-6) if a.numel() else True


def _holds(model: nn.Module, law: Law, measure: Callable[[], Tensor], train_mode: bool = False) -> bool:
    """Whether the transformation of `law` leaves `measure()` unchanged (parameters and buffers put back)."""
    params = dict(model.named_parameters())
    if any(p.tensor not in params for p in law.plus + law.minus):
        return False
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was = model.training
    gen = torch.Generator().manual_seed(12345)
    try:
        model.train(train_mode)
        with torch.no_grad():
            before = measure().double()
            _transform(law, {k: v.data for k, v in params.items()}, gen)
            after = measure().double()
        return _close(before, after)
    finally:
        with torch.no_grad():
            for k, v in model.state_dict(keep_vars=True).items():
                v.copy_(saved[k])
        model.train(was)


def detect_symmetries(model: nn.Module, loss_fn: Optional[LossFn], x: Tensor, y: Tensor) -> Detection:
    """The symmetries of `model` (candidates from its modules, each checked on the examples (x, y))."""
    items = _structure(model)
    declared = [i[1] for i in items if isinstance(i, tuple)]
    items = [i for i in items if not isinstance(i, tuple)]
    d = Detection()
    linears = [i for i in items if isinstance(i, _Linear)]
    if not linears:
        d.notes.append("symmetries not determined: the model has no nn.Linear layers")
        return d
    output = lambda: model(x).reshape(x.shape[0], -1)  # noqa: E731
    declared_degree = homogeneity(declared[0]) if declared else None
    rescale_notes: List[str] = []
    has_norm = False
    for i, a in enumerate(items):
        if not isinstance(a, _Linear):
            continue
        rest = items[i + 1 :]
        between: List[_Act] = []
        nxt: Any = None
        for b in rest:
            if isinstance(b, _Act):
                between.append(b)
                continue
            nxt = b
            break
        if isinstance(nxt, _Norm) and nxt.size == a.out and not between:
            has_norm = True
            tensors = [a.weight] + ([a.bias] if a.bias else [])
            law = Law("quadratic", 1, tuple(_rows(t, 1) for t in tensors))
            if _holds(model, law, output, train_mode=nxt.batch):
                d.symmetries.append(Symmetry("scale", f"{a.name} (before {nxt.name})", law))
                if nxt.batch:
                    d.notes.append(f"{nxt.name} is a BatchNorm: the scale symmetry holds with batch statistics (training mode)")
            else:
                d.notes.append(f"no scale symmetry before {nxt.name}: scaling {a.name}'s weight changes the output")
            continue
        if not isinstance(nxt, _Linear):
            continue
        degrees = [b.degree for b in between]
        if any(k is None for k in degrees):
            bad = next(b for b in between if b.degree is None)
            rescale_notes.append(f"no rescale symmetry between {a.name} and {nxt.name}: {bad.what} is not positively homogeneous (σ(αz) ≠ α^k σ(z))")
            continue
        if declared:
            if declared_degree is None:
                rescale_notes.append(f"no rescale symmetry between layers: {declared[0]} is not positively homogeneous (σ(αz) ≠ α^k σ(z)), so it has no rescale symmetry")
                continue
            degree = declared_degree
        else:
            degree = max([k for k in degrees if k is not None] or [1])
        incoming = (_rows if a.torch_layout else _cols)(a.weight, a.out)
        outgoing = (_cols if nxt.torch_layout else _rows)(nxt.weight, a.out)
        if (nxt.inp != a.out):
            rescale_notes.append(f'no rescale symmetry between {a.name} and {nxt.name}: "{nxt.name}" reads {nxt.inp} features but "{a.name}" writes {a.out}')
            continue
        plus = (incoming,) + ((_rows(a.bias, a.out),) if a.bias else ())
        law = Law("quadratic", a.out, plus, (outgoing,), degree)
        if _holds(model, law, output):
            d.symmetries.append(Symmetry("rescale", f"{a.name} → {nxt.name}", law))
        else:
            rescale_notes.append(
                f"no rescale symmetry between {a.name} and {nxt.name}: scaling a hidden unit's incoming weights by α and its outgoing ones by 1/α changes the output (a nonlinearity that is not positively homogeneous, or {nxt.name} does not read {a.name}'s output)"
            )
    d.notes.extend(rescale_notes)
    readout = linears[-1]
    features = readout.inp
    plus = ((_cols if readout.torch_layout else _rows)(readout.weight, features),)
    if readout.bias:
        plus += (_rows(readout.bias, 1, features),)
    law = Law("linear", features + (1 if readout.bias else 0), plus)
    if loss_fn is None:
        d.notes.append("translation symmetry of the readout not determined: run.watch was given no loss_fn")
    elif readout.out < 2:
        d.notes.append("no translation symmetry: the readout has a single output (regression)")
    elif _holds(model, law, lambda: per_example_losses(loss_fn, model(x), y)):
        d.symmetries.append(Symmetry("translation", readout.name, law))
    else:
        d.notes.append(f"no translation symmetry: adding one vector to every class's weights in {readout.name} changes the loss (it is not softmax cross-entropy, or {readout.name} is not the readout)")
    if not has_norm:
        d.notes.append("no scale symmetry: the model has no normalization layer")
    return d


# ---------------------------------------------------------------- the record


def conservation_record(step: int, reference: int, symmetries: Sequence[Symmetry], q0: Sequence[Tensor], params: Mapping[str, Tensor], opt: Optimization, notes: Sequence[str]) -> Dict[str, Any]:
    """The `conservation.jsonl` record of checkpoint `step` (conservationAnalysis.ts `compute`)."""
    n = max(0, step - reference)
    known = isinstance(opt, OptimizerInfo)
    lrs = [float(opt.lr_at(reference + j + 1)) for j in range(n)] if known else [0.0] * n  # type: ignore[union-attr]
    a = decay_factor(opt, lrs)
    time = sum(lrs)
    laws = []
    for sym, base in zip(symmetries, q0):
        q = conserved_quantities(sym.law, params)
        pred = predicted_quantity(sym.law.form, a, base) if a is not None else None
        laws.append({"kind": sym.kind, "layer": sym.layer, "count": sym.law.count, **drift_of(q, base, pred), "quality": "none" if a is None else prediction_quality(opt, sym.law.form)})
    return {
        "step": step,
        "lr": lrs[-1] if known and n > 0 and math.isfinite(lrs[-1]) else None,
        "time": time if known and math.isfinite(time) else None,
        "decay": a,
        "law": describe_law(opt),
        "symmetries": laws,
        "notes": list(notes),
    }
