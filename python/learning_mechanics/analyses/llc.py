"""The local learning coefficient at a checkpoint for a PyTorch model (Lau et al. 2023; devinterp's
`estimate_learning_coeff`; docs/analyses.md, "Local learning coefficient"), the twin of
src/trainer/methods/llc.ts and src/trainer/analyzer/llcAnalysis.ts, writing the same `llc.jsonl`
record. Around the checkpoint w*, with the BIF's SGLD sampler (bif.py `run_sgld`, the TypeScript
minibatch order) on p(w) ∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²):

    λ̂ = nβ · (E_w[L_n(w)] − L_n(w*)),

E over the pooled kept draws of the completed chains, L_n the mean loss over every training example
at each draw, nβ = n / ln n by default (β = 1/log n). `stdErr` is the spread of the per-chain
estimates / √chains; split R̂ and ESS of the L_n traces (bif.py, mcmcDiagnostics.ts) warn when
unmixed, λ̂ < 0 warns that w* is not a local minimum. The weights are put back to w* afterwards.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .bif import ChainOutcome, _js, effective_sample_size, run_sgld, sgld_options, split_rhat
from .pergrad import LossFn, _batches, _device_of, eval_mode, loss_sum


def full_loss(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, batch: int = 4096) -> float:
    """L_n: the mean per-example loss over (x, y), `batch` rows at a time, summed in float64."""
    total = 0.0
    with torch.no_grad():
        for xb, yb in _batches(x, y, batch, _device_of(model)):
            total += float(loss_sum(loss_fn, model(xb), yb).double())
    return total / x.shape[0]


def _fixed(v: float, digits: int) -> str:
    return f"{v:.{digits}f}"


def compute_llc(
    model: nn.Module,
    loss_fn: LossFn,
    train: Tuple[Tensor, Tensor],
    settings: Mapping[str, Any],
    *,
    step: int,
    seed: Optional[int] = None,
    eval_batch: int = 4096,
    max_rhat: float = 1.1,
    min_ess: float = 50,
) -> Dict[str, Any]:
    """The `llc.jsonl` record of one checkpoint (the model holds its weights, and holds them again
    when this returns); the chains are seeded with the step, as llcAnalysis.ts does."""
    x, y = train
    n = int(x.shape[0])
    try:
        o = sgld_options(n, settings, step if seed is None else seed)
    except ValueError as e:
        raise ValueError(str(e).replace("bif.", "llc.")) from None
    traces: List[Tuple[ChainOutcome, List[float]]] = []
    current: List[float] = []

    def start(_chain: int) -> None:
        nonlocal current
        current = []

    def draw(_chain: int, _draw: int) -> Optional[str]:
        value = full_loss(model, loss_fn, x, y, eval_batch)
        if not math.isfinite(value):
            return f"the training loss at a draw became {_js(value)}"
        current.append(value)
        return None

    def end(_chain: int, outcome: ChainOutcome) -> None:
        traces.append((outcome, list(current)))

    with eval_mode(model):
        init_loss = full_loss(model, loss_fn, x, y, eval_batch)
        outcomes = run_sgld(model, loss_fn, (x, y), o, draw, start, end)
    completed = [t for oc, t in traces if oc.kind == "completed" and t]
    chain_llc = [o.n_beta * (sum(t) / len(t) - init_loss) for t in completed]
    pooled = [v for t in completed for v in t]
    llc = o.n_beta * (sum(pooled) / len(pooled) - init_loss) if pooled else math.nan
    k = len(chain_llc)
    mean = sum(chain_llc) / k if k else math.nan
    std_err = math.sqrt(sum((c - mean) ** 2 for c in chain_llc) / (k - 1) / k) if k > 1 else math.nan
    rhat = split_rhat(completed) if completed else math.nan
    ess = effective_sample_size(completed) if completed else math.nan
    warnings: List[str] = []
    diverged = [oc for oc in outcomes if oc.kind == "diverged"]
    if diverged:
        warnings.append(f"{len(diverged)} of {o.chains} chains diverged{' and were left out' if k else ''}. {' '.join(d.message for d in diverged)}")
    if rhat > max_rhat:
        warnings.append(f"The chains have not mixed: split R-hat {_fixed(rhat, 3)} > {max_rhat:g}. Run more draws or burn-in, or a larger step size; λ̂ is unreliable.")
    if ess < min_ess:
        warnings.append(f"Effective sample size {_fixed(ess, 1)} < {min_ess:g} (of {len(pooled)} draws): λ̂ is noisy; run more draws.")
    if llc < 0:
        warnings.append("λ̂ < 0: the chains found lower loss than the checkpoint, which is not at a local minimum (or the step size is too large).")
    record: Dict[str, Any] = {
        "step": step,
        "llc": llc if math.isfinite(llc) else None,
        "stdErr": std_err if math.isfinite(std_err) else None,
        "chainLlc": chain_llc,
        "loss": init_loss,
        "nBeta": o.n_beta,
        "traces": [t for _, t in traces],
        "rhat": rhat if math.isfinite(rhat) else None,
        "ess": ess if math.isfinite(ess) else None,
    }
    if warnings:
        record["warning"] = "; ".join(warnings)
    return record
