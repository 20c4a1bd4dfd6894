"""Sharpness at a checkpoint for a PyTorch model (Cohen et al. 2021, 2022; docs/analyses.md,
"Sharpness and the edge of stability"), the twin of src/trainer/analyzer/sharpnessAnalysis.ts and
src/trainer/methods/hessian.ts, writing the same `sharpness.jsonl` record:

- the top `eigenvalues` eigenvalues of the Hessian of the full-batch training objective
  L(w) = mean loss over every training example (+ (λ/2)‖w‖² for SGD's and Adam's coupled weight
  decay, not AdamW's), by Lanczos (lanczos.py, the same start vector and stopping rule);
- Hessian-vector products **exact**, by double backward (∇_w(∇_w L · v)), summed over chunks of
  4,096 examples so memory stays that of one chunk's graph. tfjs's double backward is unreliable,
  so the TypeScript side uses finite differences; torch's is exact, so `method` is "exact" and
  `error` is the Lanczos residual alone;
- for Adam/AdamW also λ_max(P⁻¹H) with P = (1 − β₁ᵗ)(√(v/(1 − β₂ᵗ)) + ε) (the update's divisor,
  torch.optim.Adam's exp_avg_sq and eps), as the top eigenvalue of P^{-1/2} H P^{-1/2};
- the threshold from η of the next update: 2/η, (2 + 2β)/η with momentum, (2 + 2β₁)/((1 − β₁)η)
  for Adam's preconditioned sharpness (optim_state.py).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .lanczos import LanczosResult, lanczos_top
from .optim_state import AdamMoments, NoOptimizer, Optimization, stability_threshold
from .pergrad import LossFn, _device_of, eval_mode, loss_sum

#: Rows per forward/backward pass (the TypeScript side's `chunk`).
CHUNK = 4096


def _vector_device(device: torch.device) -> torch.device:
    """Where Lanczos keeps its float64 vectors: the model's device, unless it has no float64 (MPS)."""
    return torch.device("cpu") if device.type == "mps" else device


class Objective:
    """The full-batch training loss of `model` over (x, y) as a function of its trainable parameters."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, chunk: int = CHUNK) -> None:
        if x.shape[0] < 1:
            raise ValueError("sharpness needs at least one training example")
        self.model, self.loss_fn, self.x, self.y, self.chunk = model, loss_fn, x, y, chunk
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("sharpness: the model has no trainable parameters")
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        self.device = _device_of(model)
        self.vdevice = _vector_device(self.device)

    def _chunks(self):
        n = self.x.shape[0]
        for start in range(0, n, self.chunk):
            yield self.x[start : start + self.chunk].to(self.device), self.y[start : start + self.chunk].to(self.device)

    def _pieces(self, v: Tensor) -> List[Tensor]:
        out, o = [], 0
        for p, s in zip(self.params, self.sizes):
            out.append(v[o : o + s].view(p.shape).to(device=p.device, dtype=p.dtype))
            o += s
        return out

    def _flat(self, parts: List[Optional[Tensor]]) -> Tensor:
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).to(self.vdevice, torch.float64) for g, p in zip(parts, self.params)])

    def loss(self) -> float:
        n = self.x.shape[0]
        total = 0.0
        with torch.no_grad():
            for xb, yb in self._chunks():
                total += float(loss_sum(self.loss_fn, self.model(xb), yb).double())
        return total / n

    def hvp(self, v: Tensor) -> Tensor:
        """H·v by double backward, chunk by chunk (each chunk's share of the mean)."""
        n = self.x.shape[0]
        vs = self._pieces(v)
        acc: List[Optional[Tensor]] = [None] * len(self.params)
        with torch.enable_grad():
            for xb, yb in self._chunks():
                loss = loss_sum(self.loss_fn, self.model(xb), yb) / n
                grads = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
                terms = [(g * u).sum() for g, u in zip(grads, vs) if g is not None]
                if not terms:
                    continue
                dot = torch.stack(terms).sum()
                if not dot.requires_grad:  # the loss is linear in every parameter: H = 0
                    continue
                hv = torch.autograd.grad(dot, self.params, allow_unused=True)
                acc = [a if h is None else (h.detach() if a is None else a + h.detach()) for a, h in zip(acc, hv)]
        return self._flat(acc)

    def squared_norm(self) -> float:
        return float(sum(float(p.detach().double().pow(2).sum()) for p in self.params))


def top_eigenvalues(obj: Objective, count: int, iterations: int, tolerance: float, l2: float = 0.0, preconditioner: Optional[Tensor] = None) -> Tuple[LanczosResult, int]:
    """`sharpness` of hessian.ts with exact products: Lanczos on H + l2·I, or on P^{-1/2}(H + l2·I)P^{-1/2}."""
    d: Optional[Tensor] = None
    if preconditioner is not None:
        if preconditioner.numel() != obj.dim:
            raise ValueError(f"preconditioner has {preconditioner.numel()} entries, the model {obj.dim} parameters")
        d = preconditioner.to(obj.vdevice, torch.float64).rsqrt()
        if not bool(torch.isfinite(d).all()) or bool((d <= 0).any()):
            raise ValueError("the preconditioner must be positive and finite everywhere")
    products = 0

    def apply(u: Tensor) -> Tensor:
        nonlocal products
        products += 1
        v = u * d if d is not None else u
        hv = obj.hvp(v) + l2 * v
        return hv * d if d is not None else hv

    r = lanczos_top(apply, obj.dim, count=count, max_iterations=iterations, tolerance=tolerance, device=obj.vdevice)
    return r, products


def adam_preconditioner(info: Optimization, obj: Objective, moments: Optional[AdamMoments]) -> Optional[Tensor]:
    """P = (1 − β₁ᵗ)(√(v/(1 − β₂ᵗ)) + ε) flattened in parameter order (sharpnessAnalysis.ts
    `adamPreconditioner`); None before the first update or when a parameter has no second moment."""
    if isinstance(info, NoOptimizer) or info.kind == "sgd" or moments is None or moments.t < 1:
        return None
    b1, b2 = info.betas
    c1 = 1 - b1**moments.t
    c2 = math.sqrt(1 - b2**moments.t)
    parts = []
    for name, p in zip(obj.names, obj.params):
        v = moments.v.get(name)
        if v is None or tuple(v.shape) != tuple(p.shape):
            return None
        parts.append(v.detach().reshape(-1).to(obj.vdevice, torch.float64))
    v = torch.cat(parts)
    return c1 * (v.clamp_min(0).sqrt() / c2 + info.eps)


def compute_sharpness(
    model: nn.Module,
    loss_fn: LossFn,
    train: Tuple[Tensor, Tensor],
    settings: Mapping[str, Any],
    *,
    step: int,
    lr: float,
    optimizer: Optimization,
    moments: Optional[AdamMoments] = None,
    chunk: int = CHUNK,
) -> Dict[str, Any]:
    """The `sharpness.jsonl` record of one checkpoint (the model holds its weights; they are not changed)."""
    obj = Objective(model, loss_fn, train[0], train[1], chunk)
    # Coupled weight decay is part of the objective: (λ/2)‖w‖² adds λI to its Hessian. AdamW's is not.
    l2 = optimizer.weight_decay if not isinstance(optimizer, NoOptimizer) and optimizer.kind in ("sgd", "adam") else 0.0
    count, iterations, tolerance = int(settings["eigenvalues"]), int(settings["iterations"]), float(settings["tolerance"])
    threshold, of = stability_threshold(optimizer, lr)
    with eval_mode(model):
        plain, products = top_eigenvalues(obj, count, iterations, tolerance, l2)
        preconditioned: Optional[float] = None
        pre_error: Optional[float] = None
        p = adam_preconditioner(optimizer, obj, moments)
        if p is not None:
            pre, more = top_eigenvalues(obj, 1, iterations, tolerance, l2, p)
            preconditioned, pre_error = pre.values[0], pre.residuals[0]
            products += more
        loss = obj.loss() + (l2 / 2 * obj.squared_norm() if l2 > 0 else 0.0)
    record: Dict[str, Any] = {
        "step": step,
        "eigenvalues": plain.values,
        "preconditioned": preconditioned,
        "lr": lr if math.isfinite(lr) else None,
        "threshold": threshold if math.isfinite(threshold) else None,
        "thresholdOf": of,
        "method": "exact",
        "error": plain.residuals[0],
    }
    if pre_error is not None:
        record["preconditionedError"] = pre_error
    record["iterations"] = products
    record["loss"] = loss
    return record


