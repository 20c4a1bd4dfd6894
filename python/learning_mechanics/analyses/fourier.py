"""Fourier progress measures of a modular-arithmetic model (Nanda et al. 2023), as
src/measures/fourier.ts and src/trainer/analyzer/fourierAnalysis.ts define them
(docs/analyses.md, "Fourier"), in float64 torch:

- W_E, the embedding as a p × d matrix (row x = how residue x enters the network): the embedding
  table's first p rows, or for a one-hot first layer its rows for residue x in the two operand
  positions side by side (p × 2h);
- `gini`: Gini coefficient of the per-frequency norms of F·W_E (cos and sin pooled, constant left
  out); `neuronGini`: the mean over W_E's columns of each column's Gini;
- `keyFrequencies`: the top k by their share of the logit table over all p² pairs (addition), else
  by the embedding's norms; `restrictedLoss` over all pairs with only those frequencies (plus the
  per-answer means), `excludedLoss` over the training pairs with them removed (addition only);
- `sumSquares`: Σ w² over all parameters.

The model is told which parameter is the embedding (`analyses={"fourier": {"embedding":
"embed.weight", "p": 97}}`); its inputs are the token pairs [a, b] (or [a, b, p] with
`equalsToken`), row a·p + b, as the built-in tasks make them.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn as nn

from .settings import SettingsError


def basis_rows(p: int) -> List[tuple]:
    """(kind, k) for the rows of F: const, cos 1, sin 1, …; for even p, sin(p/2) is left out."""
    rows = [("const", 0)]
    for k in range(1, p // 2 + 1):
        rows.append(("cos", k))
        if 2 * k != p:
            rows.append(("sin", k))
    return rows


def fourier_basis(p: int) -> torch.Tensor:
    """The real orthonormal Fourier basis of Z_p, rows = basis vectors (float64)."""
    x = torch.arange(p, dtype=torch.float64)
    out = []
    for kind, k in basis_rows(p):
        angle = 2 * math.pi * k * x / p
        v = torch.ones(p, dtype=torch.float64) if kind == "const" else torch.cos(angle) if kind == "cos" else torch.sin(angle)
        out.append(v / torch.linalg.norm(v))
    return torch.stack(out)


def _per_frequency(sq_rows: torch.Tensor, p: int) -> torch.Tensor:
    """Per basis row squared norms [rows, …] → per frequency k = 1..⌊p/2⌋ (cos and sin pooled), sqrt taken."""
    freq = torch.tensor([k for _, k in basis_rows(p)])
    out = torch.zeros((p // 2,) + tuple(sq_rows.shape[1:]), dtype=torch.float64)
    out.index_add_(0, freq[1:] - 1, sq_rows[1:])
    return out.sqrt()


def gini(values: torch.Tensor) -> float:
    """Σ_i (2i − n − 1) x_(i) / (n Σ x) over ascending x (kernels.ts `gini`); 0 for all-zero; NaN when empty."""
    n = values.numel()
    if n == 0:
        return math.nan
    s, _ = torch.sort(values.double().reshape(-1))
    total = s.sum()
    if total == 0:
        return 0.0
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * i - n - 1) * s).sum() / (n * total))


def embedding_matrix(model: nn.Module, name: str, p: int, layout: str = "auto") -> torch.Tensor:
    """W_E (p × d, float64 on the CPU) from the parameter `name`. An `nn.Linear`'s weight is
    [out, in] and is transposed first; `layout` "onehot" (or "auto" with at least 2p rows that split
    into equal operand blocks) reads a one-hot first layer; "table" (or "auto" otherwise) the first p rows."""
    params = dict(model.named_parameters())
    if name not in params:
        close = [n for n in params if n.endswith(name.split(".")[-1])][:5]
        raise SettingsError(f"analyses.fourier.embedding: the model has no parameter {name!r}" + (f" (it has {', '.join(close)})" if close else ""))
    w = params[name].detach().double().cpu()
    owner = dict(model.named_modules()).get(name.rsplit(".", 1)[0] if "." in name else "")
    if isinstance(owner, nn.Linear) and name.endswith("weight"):
        w = w.T
    if w.dim() != 2:
        raise SettingsError(f"analyses.fourier.embedding: {name!r} has shape {list(w.shape)}, not a matrix")
    rows = int(w.shape[0])
    if layout == "onehot" or (layout == "auto" and rows >= 2 * p):
        vocab = _vocab_of(rows, p)
        if vocab is None:
            raise SettingsError(f"analyses.fourier.embedding: {name!r} has {rows} rows, which do not split into operand blocks of at least p = {p} rows")
        return torch.cat([w[0:p], w[vocab : vocab + p]], dim=1)
    if rows < p:
        raise SettingsError(f"analyses.fourier.embedding: {name!r} has {rows} rows, fewer than p = {p}")
    return w[:p]


def _vocab_of(rows: int, p: int) -> Optional[int]:
    """The block size of a one-hot first layer of 2 or 3 operand positions (vocab p or p + 1)."""
    for length in (2, 3):
        if rows % length == 0 and rows // length >= p and rows // length <= p + 1:
            return rows // length
    return None


def all_pairs(p: int, equals_token: bool, device: torch.device) -> torch.Tensor:
    a = torch.arange(p, device=device).repeat_interleave(p)
    b = torch.arange(p, device=device).repeat(p)
    cols = [a, b] + ([torch.full_like(a, p)] if equals_token else [])
    return torch.stack(cols, dim=1)


def _sum_directions(p: int, k: int) -> List[torch.Tensor]:
    """Unit vectors over pairs along cos/sin(w_k(a+b)), stored by s = (a+b) mod p."""
    s = torch.arange(p, dtype=torch.float64)
    out = []
    for fn in (torch.cos, torch.sin):
        d = fn(2 * math.pi * k * s / p)
        norm2 = float((d * d).sum()) * p
        if norm2 < 1e-9:
            continue
        out.append(d / math.sqrt(norm2))
    return out


def _grouped(logits: torch.Tensor, p: int) -> torch.Tensor:
    s = (torch.arange(p).repeat_interleave(p) + torch.arange(p).repeat(p)) % p
    g = torch.zeros(p, p, dtype=torch.float64)
    g.index_add_(0, s, logits)
    return g


def frequency_shares(logits: torch.Tensor, p: int) -> torch.Tensor:
    g = _grouped(logits, p)
    shares = torch.zeros(p // 2, dtype=torch.float64)
    for k in range(1, p // 2 + 1):
        for d in _sum_directions(p, k):
            coef = d @ g
            shares[k - 1] += (coef * coef).sum()
    variance = ((logits - logits.mean(0, keepdim=True)) ** 2).sum()
    return torch.zeros_like(shares) if variance == 0 else shares / variance


def frequency_components(logits: torch.Tensor, p: int, freqs: List[int]) -> torch.Tensor:
    g = _grouped(logits, p)
    s = (torch.arange(p).repeat_interleave(p) + torch.arange(p).repeat(p)) % p
    out = torch.zeros_like(logits)
    for k in sorted(set(freqs)):
        for d in _sum_directions(p, k):
            coef = d @ g
            out += d[s].unsqueeze(1) * coef.unsqueeze(0)
    return out


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, rows: Optional[torch.Tensor] = None) -> float:
    if rows is not None:
        logits, labels = logits[rows], labels[rows]
    if logits.shape[0] == 0:
        return math.nan
    return float(torch.nn.functional.cross_entropy(logits, labels, reduction="mean"))


def top_frequencies(scores: torch.Tensor, k: int) -> List[int]:
    """The k frequencies (1-based) with the largest scores, largest first; ties to the lower frequency."""
    order = sorted(range(1, scores.numel() + 1), key=lambda f: (-float(scores[f - 1]), f))
    return order[: max(0, k)]


def fourier_record(model: nn.Module, settings: Mapping[str, Any], train_x: Optional[torch.Tensor], step: int) -> Dict[str, Any]:
    """The fourier.jsonl record of the model as it is now."""
    p = int(settings["p"])
    op = settings.get("op", "add")
    w_e = embedding_matrix(model, str(settings["embedding"]), p, settings.get("layout", "auto"))
    basis = fourier_basis(p)
    coeffs = basis @ w_e  # [p, d]
    norms = _per_frequency((coeffs * coeffs).sum(1), p)
    column_norms = _per_frequency(coeffs * coeffs, p)  # [freqs, d]
    neuron_gini = float(sum(gini(column_norms[:, j]) for j in range(column_norms.shape[1])) / column_norms.shape[1]) if column_norms.shape[1] else math.nan
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(all_pairs(p, bool(settings.get("equalsToken", False)), device)).double().cpu()
    finally:
        model.train(was_training)
    if logits.dim() != 2 or logits.shape[0] != p * p or logits.shape[1] < p:
        raise SettingsError(f"analyses.fourier: the model's output on the p² = {p * p} pairs has shape {list(logits.shape)}, not [{p * p}, {p}]")
    logits = logits[:, :p]
    additive = op == "add"
    keys = top_frequencies(frequency_shares(logits, p) if additive else norms, int(settings["keyFrequencies"]))
    labels = (torch.arange(p).repeat_interleave(p) + torch.arange(p).repeat(p)) % p
    restricted = excluded = math.nan
    if additive:
        comps = frequency_components(logits, p, keys)
        restricted = cross_entropy(comps + logits.mean(0, keepdim=True), labels)
        if train_x is not None and train_x.dim() == 2 and train_x.shape[1] >= 2 and not torch.is_floating_point(train_x):
            rows = (train_x[:, 0].long().cpu() * p + train_x[:, 1].long().cpu())
            excluded = cross_entropy(logits - comps, labels, rows)
    sum_squares = float(sum(float((q.detach().double() ** 2).sum()) for q in model.parameters()))
    return {
        "step": step,
        "gini": gini(norms),
        "neuronGini": neuron_gini,
        "frequencyNorms": norms.tolist(),
        "keyFrequencies": keys,
        "restrictedLoss": restricted,
        "excludedLoss": excluded,
        "sumSquares": sum_squares,
    }
