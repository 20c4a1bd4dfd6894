"""TracIn per checkpoint for a researcher's PyTorch model (Pruthi et al. 2020; docs/analyses.md,
"TracIn"), the twin of src/trainer/methods/tracin.ts and src/trainer/analyzer/tracinAnalysis.ts:

    T(z, Q) = η ∇ℓ(w, z) · q̄,   q̄ = mean over z′ ∈ Q of ∇ℓ(w, z′),

with LoGra-projected gradients (pergrad.py; one fixed projection for the whole run). Positive =
proponent. The record is the `tracin.jsonl` record of docs/analysis-format.md:
`{"step", "lr", "values", "projectionError"}`.

How it is computed (the same numbers as the TypeScript side, another route): q̄ is one ordinary
backward pass over the query examples, projected once; the projected dot product of each training
example's gradient with it equals the full gradient's dot product with q̄ lifted back
(P_in Q̄ P_outᵀ per layer), i.e. the directional derivative of the example's loss along a fixed
vector, one forward-mode pass over the training examples.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .pergrad import DEFAULT_CHUNK, LossFn, Projection, eval_mode, gradient_dots, mean_gradient, per_example_grads

ERROR_PROBE = 8
"""Training examples whose exact gradients measure the projection's error at each checkpoint (as tracinAnalysis.ts)."""

Examples = Tuple[Tensor, Tensor]
"""(inputs, targets): what the model and loss_fn take, first axis = examples."""


def finite_or_none(v: float) -> Optional[float]:
    """A record's number, or None (JSON null) when not finite, as the TypeScript writer does."""
    return v if math.isfinite(v) else None


def scored_rows(n: int, train_examples: int) -> List[int]:
    """The training rows an influence analysis scores: the first `trainExamples` (0 = all), as
    examples.ts `trainSubset` (the training split is taken as already shuffled)."""
    count = min(train_examples, n) if train_examples > 0 else n
    return list(range(count))


def make_projection(model: nn.Module, settings: Mapping[str, Any], seed: int) -> Projection:
    """The run's projection: `projectionDim` k per linear-layer side, k² for the fallback block,
    seeded by the run's seed (tracinAnalysis.ts). Build once, pass to every `compute_tracin`."""
    return Projection.logra(model, settings["projectionDim"], seed)


def projection_error(model: nn.Module, loss_fn: LossFn, probe: Examples, projection: Projection) -> float:
    """rms over pairs i ≤ j of the probe's examples of (projected − exact gradient dot product) /
    (‖g_i‖ ‖g_j‖) (perExample.ts `projectionError`; the diagonal included, 0 for a zero gradient)."""
    x, y = probe
    names = [r.name for r in projection.roles]
    grads = next(per_example_grads(model, loss_fn, x, y, names, chunk=max(1, x.shape[0])))
    exact = torch.cat([grads[n].reshape(x.shape[0], -1) for n in names], 1).double()
    proj = projection.project(grads).double()
    ge = exact @ exact.T
    gp = proj @ proj.T
    norms = ge.diagonal().clamp(min=0).sqrt()
    scale = norms[:, None] * norms[None, :]
    upper = torch.triu(torch.ones_like(ge, dtype=torch.bool))
    err = torch.where(scale > 0, (gp - ge) / torch.where(scale > 0, scale, torch.ones_like(scale)), torch.zeros_like(ge))
    return float(err[upper].pow(2).mean().sqrt())


def tracin_scores(
    model: nn.Module,
    loss_fn: LossFn,
    train: Examples,
    query: Examples,
    lr: float,
    projection: Projection,
    chunk: int = DEFAULT_CHUNK,
) -> Tensor:
    """η ∇ℓ(z_i) · q̄ for every training example [n] (float32 on the model's device), gradients
    projected by `projection` (exact when it is `Projection.exact`)."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
        raise ValueError(f"tracin: lr must be a finite number ≥ 0, got {lr!r}")
    names = [r.name for r in projection.roles]
    with eval_mode(model):
        qbar = mean_gradient(model, loss_fn, query[0], query[1], names, chunk)
        direction = projection.lift(projection.project_one(qbar))
        return lr * gradient_dots(model, loss_fn, train[0], train[1], direction, chunk)


def compute_tracin(
    model: nn.Module,
    loss_fn: LossFn,
    train: Examples,
    query: Examples,
    settings: Mapping[str, Any],
    lr: float,
    *,
    step: int,
    seed: int,
    projection: Optional[Projection] = None,
    chunk: int = DEFAULT_CHUNK,
) -> Dict[str, Any]:
    """The `tracin.jsonl` record of one checkpoint (the model holds its weights):
    `{"step", "lr", "values", "projectionError"}`.

    `train` are the scored training examples (the header's `examples`, in order: see
    `scored_rows`), `query` the query examples; `settings` the resolved `tracin` settings
    (`projectionDim` is read here); `lr` η at this step (metrics.jsonl's "lr"); `seed` the run's
    seed. Pass the same `projection` (from `make_projection`) at every checkpoint to skip
    rebuilding its matrices; without one it is built from `settings` and `seed`.
    """
    if not (isinstance(lr, (int, float)) and math.isfinite(lr)):
        raise ValueError(
            f'tracin: no learning rate logged at step {step} (metrics.jsonl needs "lr" at each checkpoint\'s step)'
        )
    proj = projection if projection is not None else make_projection(model, settings, seed)
    scores = tracin_scores(model, loss_fn, train, query, float(lr), proj, chunk)
    k = min(ERROR_PROBE, train[0].shape[0])
    with eval_mode(model):
        error = projection_error(model, loss_fn, (train[0][:k], train[1][:k]), proj) if k > 0 else float("nan")
    values: Sequence[float] = scores.float().cpu().tolist()
    return {
        "step": step,
        "lr": float(lr),
        "values": [finite_or_none(v) for v in values],
        "projectionError": finite_or_none(error),
    }
