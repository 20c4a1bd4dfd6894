"""The Bayesian influence function by SGLD for a researcher's PyTorch model (Kreer et al. 2025;
docs/analyses.md, "Bayesian influence function"), the twin of src/trainer/methods/{sgld,bif,
mcmcDiagnostics}.ts and src/trainer/analyzer/bifAnalysis.ts.

Around the checkpoint w* (the model's current weights) SGLD samples the localized tempered posterior
p(w) ∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²):

    w ← w − (ε/2)(nβ ∇L_batch(w) + γ(w − w*)) + √ε · N(0, I),

and the record reports BIF(z_i, φ) = −Cov(ℓ_i(w), φ(w)) over the pooled kept draws of all chains,
φ = the query set's mean loss, with a standard error from the spread of the per-chain covariances,
each chain's L_n and φ traces, and split R̂ / ESS of the loss traces (a warning when unmixed). The
record is the `bif.jsonl` record of docs/analysis-format.md. The weights are put back to w* when
this returns or raises.

The minibatch order is the TypeScript one (the seeded generator of src/sdk/rng.ts: Rng(seed,
"sgld", chain), forked "noise" then "batch"); the Gaussian noise comes from a torch generator on
the model's device seeded from the "noise" stream, so chains are reproducible per seed but not
bit-identical to the TypeScript chains (they could not be anyway: float rounding differs).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..rng import Rng
from .pergrad import LossFn, _batches, _device_of, eval_mode, per_example_losses
from .tracin import Examples, finite_or_none, scored_rows


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class SgldOptions:
    """The sampler (sgld.ts `SgldOptions`), from the `bif` settings by `sgld_options`."""

    step_size: float
    n_beta: float
    localization: float
    chains: int
    draws: int
    burn_in: int
    thin: int
    batch_size: int
    seed: int
    init_spread: float = 0.0


def sgld_options(n: int, settings: Mapping[str, Any], seed: int) -> SgldOptions:
    """The `bif` settings (epsilon, gamma, nBeta 0 = n / ln n, chains, draws, burnIn, thin, batchSize)
    as sampler options for n training examples, checked with a message naming the setting."""

    def number(key: str, integer: bool, minimum: float, strict: bool = False) -> float:
        v = settings.get(key)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v > minimum if strict else v >= minimum) and (not integer or float(v).is_integer())
        if not ok:
            kind = "an integer" if integer else "a number"
            bound = f"> {minimum}" if strict else f"≥ {minimum}"
            raise ValueError(f"bif.{key} must be {kind} {bound}, got {v!r}")
        return float(v)  # type: ignore[arg-type]

    if n < 1:
        raise ValueError("bif: SGLD needs at least one training example")
    n_beta = number("nBeta", False, 0)
    return SgldOptions(
        step_size=number("epsilon", False, 0, strict=True),
        n_beta=n_beta if n_beta > 0 else (n / math.log(n) if n > 1 else 1.0),
        localization=number("gamma", False, 0),
        chains=int(number("chains", True, 1)),
        draws=int(number("draws", True, 1)),
        burn_in=int(number("burnIn", True, 0)),
        thin=int(number("thin", True, 1)),
        batch_size=min(n, int(number("batchSize", True, 1))),
        seed=int(seed),
    )


# ---------------------------------------------------------------- the sampler


@dataclass
class ChainOutcome:
    """How a chain ended (sgld.ts): "completed", or "diverged" at `step` with `message`."""

    kind: str
    draws: int
    step: int = 0
    message: str = ""


def _divergence_message(chain: int, step: int, what: str, o: SgldOptions) -> str:
    return (
        f"SGLD chain {chain} diverged at step {step}: {what}. The step size ε = {o.step_size:g} is too large for this "
        f"posterior (nβ = {o.n_beta:.4g}, γ = {o.localization:g}); try ε ≤ {o.step_size / 10:.2g}."
    )


def _fork(r: Rng, label: str) -> Rng:
    """`Rng.fork` of src/sdk/rng.ts: a new stream seeded by the next draw and a label."""
    return Rng(r.next_uint32(), label)


def run_sgld(
    model: nn.Module,
    loss_fn: LossFn,
    train: Examples,
    o: SgldOptions,
    on_draw: Callable[[int, int], Optional[str]],
    on_chain_start: Optional[Callable[[int], None]] = None,
    on_chain_end: Optional[Callable[[int, ChainOutcome], None]] = None,
) -> List[ChainOutcome]:
    """Runs `o.chains` SGLD chains one after the other on `train`, moving the model's trainable
    parameters in place; calls `on_draw(chain, draw)` at each kept draw with the model at it (a
    returned string declares the chain diverged). The parameters are restored to w* at the end."""
    x, y = train
    n = x.shape[0]
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("bif: SGLD needs at least one trainable parameter")
    device = _device_of(model)
    x, y = x.to(device), y.to(device)
    anchor = [p.detach().clone() for p in params]
    half = o.step_size / 2
    shrink = 1 - half * o.localization
    pull = [a * (half * o.localization) for a in anchor]
    noise_std = math.sqrt(o.step_size)
    steps_per_chain = o.burn_in + o.draws * o.thin
    full_batch = o.batch_size >= n
    outcomes: List[ChainOutcome] = []

    def restore() -> None:
        with torch.no_grad():
            for p, a in zip(params, anchor):
                p.copy_(a)

    try:
        for chain in range(o.chains):
            chain_rng = Rng(o.seed, "sgld", chain)
            noise_rng = _fork(chain_rng, "noise")
            batch_rng = _fork(chain_rng, "batch")
            gen = torch.Generator(device=device)
            gen.manual_seed((noise_rng.next_uint32() << 32) | noise_rng.next_uint32())
            restore()
            if o.init_spread > 0:
                with torch.no_grad():
                    for p in params:
                        p.add_(torch.randn(p.shape, generator=gen, device=device, dtype=p.dtype) * o.init_spread)
            if on_chain_start:
                on_chain_start(chain)
            order: Optional[List[int]] = None if full_batch else batch_rng.permutation(n)
            cursor = 0
            kept = 0
            outcome: Optional[ChainOutcome] = None
            for step in range(1, steps_per_chain + 1):
                if order is not None:
                    # A fresh permutation each epoch, as the trainer's batches (sgld.ts).
                    if cursor + o.batch_size > n:
                        order = batch_rng.permutation(n)
                        cursor = 0
                    idx = torch.tensor(order[cursor : cursor + o.batch_size], device=device)
                    cursor += o.batch_size
                    bx, by = x[idx], y[idx]
                else:
                    bx, by = x, y
                out = model(bx)
                loss = loss_fn(out, by)
                batch_loss = loss if loss.dim() == 0 else loss.mean()
                grads = torch.autograd.grad(batch_loss, params, allow_unused=True)
                with torch.no_grad():
                    for p, g, pl in zip(params, grads, pull):
                        # w(1 − εγ/2) − (εnβ/2)g + (εγ/2)w* + √ε ξ
                        p.mul_(shrink)
                        if g is not None:
                            p.sub_(g, alpha=half * o.n_beta)
                        p.add_(pl)
                        p.add_(torch.randn(p.shape, generator=gen, device=device, dtype=p.dtype), alpha=noise_std)
                value = float(batch_loss.detach())
                if not math.isfinite(value):
                    outcome = ChainOutcome(
                        "diverged", kept, step, _divergence_message(chain, step, f"the minibatch loss became {_js(value)}", o)
                    )
                    break
                if step > o.burn_in and (step - o.burn_in) % o.thin == 0:
                    reason = on_draw(chain, kept)
                    kept += 1
                    if reason is not None:
                        outcome = ChainOutcome("diverged", kept - 1, step, _divergence_message(chain, step, reason, o))
                        break
            outcome = outcome or ChainOutcome("completed", kept)
            outcomes.append(outcome)
            if on_chain_end:
                on_chain_end(chain, outcome)
        return outcomes
    finally:
        restore()


def _js(v: float) -> str:
    """A number as JavaScript prints it (NaN, Infinity), so messages read as the TypeScript ones."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


# ---------------------------------------------------------------- diagnostics (mcmcDiagnostics.ts)


def _split_halves(chains: Sequence[Sequence[float]]) -> List[List[float]]:
    length = min(len(c) for c in chains)
    half = length // 2
    out: List[List[float]] = []
    for c in chains:
        start = len(c) - 2 * half  # the end of a chain is the part closest to stationarity
        out.append(list(c[start : start + half]))
        out.append(list(c[start + half : start + 2 * half]))
    return out


def _variance_parts(seqs: List[List[float]]):
    n, m = len(seqs[0]), len(seqs)
    means = [sum(s) / n for s in seqs]
    grand = sum(means) / m
    b = sum((mu - grand) ** 2 for mu in means) * n / (m - 1)
    w = sum(sum((v - means[j]) ** 2 for v in s) / (n - 1) for j, s in enumerate(seqs)) / m
    return w, (n - 1) / n * w + b / n, n, means


def split_rhat(chains: Sequence[Sequence[float]]) -> float:
    """Split R̂ over the halves of all chains: 1 when mixed; NaN with fewer than 4 draws per chain."""
    if len(chains) < 1 or min(len(c) for c in chains) < 4:
        return math.nan
    w, var_plus, _, _ = _variance_parts(_split_halves(chains))
    if w == 0:
        return 1.0 if var_plus == 0 else math.inf
    return math.sqrt(var_plus / w)


def effective_sample_size(chains: Sequence[Sequence[float]]) -> float:
    """Stan's ESS on split chains with Geyer's initial monotone sequence (mcmcDiagnostics.ts)."""
    if len(chains) < 1 or min(len(c) for c in chains) < 4:
        return math.nan
    seqs = _split_halves(chains)
    w, var_plus, n, means = _variance_parts(seqs)
    m = len(seqs)
    if var_plus == 0:
        return float(m * n)

    def autocov(t: int) -> float:
        total = 0.0
        for j, s in enumerate(seqs):
            mu = means[j]
            total += sum((s[i] - mu) * (s[i + t] - mu) for i in range(n - t)) / n
        return total / m

    def rho(t: int) -> float:
        return 1 - (w - autocov(t)) / var_plus

    total, prev, k = 0.0, math.inf, 0
    while 2 * k + 1 < n:
        p = rho(2 * k) + rho(2 * k + 1)
        if not p > 0:
            break
        p = min(p, prev)
        prev = p
        total += p
        k += 1
    tau = max(-1 + 2 * total, 1 / math.log10(m * n))
    return m * n / tau


# ---------------------------------------------------------------- the BIF


@dataclass
class _Cov:
    """Running Cov(x_i, y) of a vector x and a scalar y in float64 (crossCovariance.ts with one query)."""

    nx: int
    device: torch.device
    count: int = 0
    mean_x: Tensor = field(init=False)
    mean_y: float = 0.0
    comoment: Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.mean_x = torch.zeros(self.nx, dtype=torch.float64, device=self.device)
        self.comoment = torch.zeros(self.nx, dtype=torch.float64, device=self.device)

    def push(self, x: Tensor, y: float) -> None:
        self.count += 1
        k = self.count
        dy = y - self.mean_y
        self.mean_y += dy / k
        self.mean_x += (x - self.mean_x) / k
        self.comoment += (x - self.mean_x) * dy

    def merge(self, other: "_Cov") -> None:
        if other.count == 0:
            return
        na, nb = self.count, other.count
        total = na + nb
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        self.comoment += other.comoment + dx * dy * (na * nb / total)
        self.mean_x += dx * nb / total
        self.mean_y += dy * nb / total
        self.count = total

    def covariance(self) -> Tensor:
        if self.count < 2:
            return torch.full((self.nx,), math.nan, dtype=torch.float64, device=self.device)
        return self.comoment / (self.count - 1)


def _losses(model: nn.Module, loss_fn: LossFn, ex: Examples, batch: int) -> Tensor:
    """Per-example losses [n] at the current weights, float64, `batch` examples per pass."""
    parts = [per_example_losses(loss_fn, model(xb), yb).double() for xb, yb in _batches(ex[0], ex[1], batch, _device_of(model))]
    return torch.cat(parts)


def compute_bif(
    model: nn.Module,
    loss_fn: LossFn,
    train: Examples,
    query: Examples,
    settings: Mapping[str, Any],
    *,
    step: int,
    rows: Optional[Sequence[int]] = None,
    seed: Optional[int] = None,
    eval_batch: int = 4096,
    max_rhat: float = 1.1,
    min_ess: float = 50,
) -> Dict[str, Any]:
    """The `bif.jsonl` record of one checkpoint (the model holds its weights, and holds them again
    when this returns): `{"step", "values", "stdErr", "traces", "rhat", "ess", "warning"?}`.

    `train` is the whole training set (L_n and the minibatches use every example); `rows` the
    positions scored, in the header's order (default: the first `trainExamples`, as
    bifAnalysis.ts); `query` the query examples, φ their mean loss; `settings` the resolved `bif`
    settings; `seed` defaults to the step, as the TypeScript analyzer seeds its chains.
    """
    n = train[0].shape[0]
    o = sgld_options(n, settings, step if seed is None else seed)
    picked = list(rows) if rows is not None else scored_rows(n, int(settings.get("trainExamples", 0)))
    bad = [r for r in picked if not (isinstance(r, numbers.Integral) and 0 <= int(r) < n)]
    if bad:
        raise ValueError(f"bif rows: {bad[0]!r} is not a row of the training set (0..{n - 1})")
    if query[0].shape[0] < 1:
        raise ValueError("bif: the query set is empty")
    device = _device_of(model)
    index = torch.tensor([int(r) for r in picked], dtype=torch.long, device=device)
    nr = len(picked)
    chain_cov = _Cov(nr, device)
    pooled = _Cov(nr, device)
    spread_mean = torch.zeros(nr, dtype=torch.float64, device=device)
    spread_m2 = torch.zeros(nr, dtype=torch.float64, device=device)
    folded = 0
    traces: List[Dict[str, List[float]]] = []
    loss_series: List[List[float]] = []
    query_series: List[List[float]] = []
    current: Dict[str, List[float]] = {"loss": [], "query": []}

    def start(_chain: int) -> None:
        nonlocal chain_cov, current
        chain_cov = _Cov(nr, device)
        current = {"loss": [], "query": []}

    def draw(_chain: int, _draw: int) -> Optional[str]:
        with torch.no_grad():
            all_losses = _losses(model, loss_fn, train, eval_batch)
            phi = float(_losses(model, loss_fn, query, eval_batch).mean())
        total = float(all_losses.mean())
        if not math.isfinite(total):
            return f"the training loss at a draw became {_js(total)}"
        if not math.isfinite(phi):
            return f"the query loss φ_0 at a draw became {_js(phi)}"
        chain_cov.push(all_losses[index], phi)
        current["loss"].append(total)
        current["query"].append(phi)
        return None

    def end(_chain: int, outcome: ChainOutcome) -> None:
        nonlocal folded, spread_mean, spread_m2
        traces.append({"loss": list(current["loss"]), "query": list(current["query"])})
        if outcome.kind != "completed":
            return
        pooled.merge(chain_cov)
        loss_series.append(current["loss"])
        query_series.append(current["query"])
        folded += 1
        c = chain_cov.covariance()
        d = c - spread_mean
        spread_mean = spread_mean + d / folded
        spread_m2 = spread_m2 + d * (c - spread_mean)

    with eval_mode(model):
        outcomes = run_sgld(model, loss_fn, train, o, draw, start, end)

    diverged = [oc for oc in outcomes if oc.kind == "diverged"]
    diverged_text = " ".join(oc.message for oc in diverged)
    if folded == 0:
        return {
            "step": step,
            "values": [None] * nr,
            "traces": traces,
            "rhat": None,
            "ess": None,
            "warning": f"All {o.chains} SGLD chains diverged; no BIF. {diverged_text}",
        }
    values = (-pooled.covariance()).cpu().tolist()
    std_err = (spread_m2 / (folded - 1) / folded).sqrt().cpu().tolist() if folded > 1 else [math.nan] * nr
    loss_rhat, loss_ess = split_rhat(loss_series), effective_sample_size(loss_series)
    rhats = [v for v in (loss_rhat, split_rhat(query_series)) if not math.isnan(v)]
    esses = [v for v in (loss_ess, effective_sample_size(query_series)) if not math.isnan(v)]
    worst_rhat = max(rhats) if rhats else math.nan
    worst_ess = min(esses) if esses else math.nan
    warnings: List[str] = []
    if diverged:
        warnings.append(f"{len(diverged)} of {o.chains} chains diverged and were left out. {diverged_text}")
    if worst_rhat > max_rhat:
        warnings.append(
            f"The chains have not mixed: split R-hat {worst_rhat:.3f} > {max_rhat:g} (loss {loss_rhat:.3f}). "
            "Run more draws or burn-in, or a larger step size; the BIF values are unreliable."
        )
    elif math.isnan(worst_rhat):
        warnings.append("Mixing cannot be checked: split R-hat needs at least 4 draws per chain.")
    if worst_ess < min_ess:
        warnings.append(
            f"Effective sample size {worst_ess:.1f} < {min_ess:g} (of {pooled.count} draws): the BIF estimate is noisy; run more draws."
        )
    record: Dict[str, Any] = {
        "step": step,
        "values": [finite_or_none(v) for v in values],
        "stdErr": [finite_or_none(v) for v in std_err],
        "traces": traces,
        "rhat": finite_or_none(loss_rhat),
        "ess": finite_or_none(loss_ess),
    }
    if warnings:
        record["warning"] = "; ".join(warnings)
    return record
