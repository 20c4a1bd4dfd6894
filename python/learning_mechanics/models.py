"""The built-in models of src/trainer/models, in PyTorch: same parameter names, same [in, out]
layout (y = x @ W + b), same forward pass, so a checkpoint is interchangeable between backends.

The initial values normally come from the TypeScript side (the same step-0 weights on every
backend); `reset_parameters` draws them from the same distributions with torch's own generator
for standalone use and tests.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

Spec = Mapping[str, Any]

GELU_C = math.sqrt(2 / math.pi)
LN_EPS = 1e-5


def activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    """The activations of src/trainer/models/params.ts: gelu is exact (erf, ``nn.GELU()``), gelu_tanh
    the tanh approximation (``nn.GELU(approximate="tanh")``)."""
    if activation == "relu":
        return torch.relu(x)
    if activation == "tanh":
        return torch.tanh(x)
    if activation == "linear":
        return x
    if activation == "quadratic":
        return x * x
    if activation == "gelu":
        return F.gelu(x, approximate="none")
    if activation == "gelu_tanh":
        # Written out (not F.gelu(approximate="tanh")) to follow the TypeScript formula term by term.
        inner = (x + x * x * x * 0.044715) * GELU_C
        return x * 0.5 * (torch.tanh(inner) + 1)
    raise ValueError(f"unknown activation {activation!r}")


def output_dim(output: Spec) -> int:
    return int(output["count"] if output["kind"] == "classes" else output["dim"])


def _normal_(p: nn.Parameter, std: float) -> None:
    with torch.no_grad():
        p.normal_(0.0, std)


class Linear(nn.Module):
    """y = x @ weight + bias with weight [in, out] (the checkpoint layout, not nn.Linear's [out, in])."""

    def __init__(self, fan_in: int, fan_out: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(fan_in, fan_out))
        self.bias: Optional[nn.Parameter] = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return x @ self.weight
        return torch.addmm(self.bias, x, self.weight)


class Table(nn.Module):
    """A lookup table: `weight` [rows, dim] (embeddings, positional embeddings, unembedding)."""

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(rows, dim))


def onehot_dense(x: torch.Tensor, w: torch.Tensor, vocab: int) -> torch.Tensor:
    """concat(one_hot(x[:, i])) @ w without the one-hot matrix: the sum over positions of row i·vocab + x[:, i]."""
    length = x.shape[1]
    offsets = torch.arange(length, device=x.device, dtype=x.dtype) * vocab
    rows = F.embedding(x + offsets, w)  # [batch, length, out]
    return rows[:, 0] if length == 1 else rows.sum(1)


# ---------------------------------------------------------------- MLP

class MLP(nn.Module):
    """src/trainer/models/mlp.ts: tokens (one-hot or embedded) or features → hidden layers → output.
    The α-scaling and centring are applied by `SystemModel`, as the TypeScript loop does."""

    def __init__(self, spec: Spec, input: Spec, output: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.input_kind = str(input["kind"])
        self.activation = str(spec["activation"])
        self.onehot_vocab: Optional[int] = None
        self.embed: Optional[Table] = None
        if input["kind"] == "features":
            in_dim = int(input["dim"])
        elif spec["embed"] == "onehot":
            in_dim = int(input["length"]) * int(input["vocab"])
            self.onehot_vocab = int(input["vocab"])
        else:
            self.embed = Table(int(input["vocab"]), int(spec["embed"]))
            in_dim = int(input["length"]) * int(spec["embed"])
        widths = [in_dim, *[int(h) for h in spec["hidden"]]]
        bias = bool(spec["bias"])
        self.layers = nn.ModuleList([Linear(widths[i], widths[i + 1], bias) for i in range(len(widths) - 1)])
        self.out = Linear(widths[-1], output_dim(output), bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        scale = float(self.spec["initScale"])
        if self.embed is not None:
            _normal_(self.embed.weight, scale)
        for layer in [*self.layers, self.out]:
            assert isinstance(layer, Linear)
            _normal_(layer.weight, scale / math.sqrt(layer.weight.shape[0]))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        linears: List[Linear] = [*self.layers, self.out]  # type: ignore[list-item]
        last = len(linears) - 1
        first = 0
        if self.input_kind == "features":
            h = x
        elif self.onehot_vocab is not None:
            l0 = linears[0]
            h = onehot_dense(x, l0.weight, self.onehot_vocab)
            if l0.bias is not None:
                h = h + l0.bias
            if last > 0:
                h = activate(h, self.activation)
            first = 1
        else:
            assert self.embed is not None
            h = F.embedding(x, self.embed.weight).reshape(x.shape[0], -1)
        for i in range(first, len(linears)):
            h = linears[i](h)
            if i < last:
                h = activate(h, self.activation)
        return h


# ---------------------------------------------------------------- transformer (Nanda et al. 2023)

class LayerNorm(nn.Module):
    """Gain `g` and bias `b`, population variance, eps 1e-5 (names as in the checkpoint)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(d))
        self.b = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.g, self.b, LN_EPS)


class Attention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.wq = nn.Parameter(torch.zeros(d, d))
        self.wk = nn.Parameter(torch.zeros(d, d))
        self.wv = nn.Parameter(torch.zeros(d, d))
        self.wo = nn.Parameter(torch.zeros(d, d))


class Mlp(nn.Module):
    def __init__(self, d: int, d_mlp: int) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(d, d_mlp))
        self.b1 = nn.Parameter(torch.zeros(d_mlp))
        self.w2 = nn.Parameter(torch.zeros(d_mlp, d))
        self.b2 = nn.Parameter(torch.zeros(d))


class Block(nn.Module):
    def __init__(self, d: int, d_mlp: int, layer_norm: bool) -> None:
        super().__init__()
        # Registration order = the TypeScript creation order (attention, MLP, then the norms).
        self.attn = Attention(d)
        self.mlp = Mlp(d, d_mlp)
        self.ln1: Optional[LayerNorm] = LayerNorm(d) if layer_norm else None
        self.ln2: Optional[LayerNorm] = LayerNorm(d) if layer_norm else None


class Transformer(nn.Module):
    """src/trainer/models/transformer.ts: token + positional embeddings, causal attention blocks
    (no attention biases), optional LayerNorm, unembedding of the last position. The last block
    computes only the last position's query, attention and MLP, the only ones the output reads.

    With `readout: "everyPosition"` (in-context regression) the input is a sequence of vectors
    (features with `sequence: {length, tokenDim}`, flat rows): a linear read-in `embed.weight`
    [tokenDim, d], every block over every position under the causal mask, and a scalar readout
    `unembed.weight` [d, 1] at tokens 0, stride, 2·stride, … (stride = length / outputs), so
    output k sees tokens 0..k·stride only."""

    def __init__(self, spec: Spec, input: Spec, output: Spec) -> None:
        super().__init__()
        out = output_dim(output)
        self.every_position = spec.get("readout") == "everyPosition"
        if self.every_position:
            seq = input.get("sequence") if input["kind"] == "features" else None
            if seq is None:
                raise ValueError('transformer: readout "everyPosition" needs a task of vector sequences (tasks.inContextRegression)')
            self.T = int(seq["length"])
            self.token_dim = int(seq["tokenDim"])
            if output["kind"] != "regression" or self.T % out != 0:
                raise ValueError(f'transformer: readout "everyPosition" needs regression outputs that divide the {self.T} tokens')
            self.stride = self.T // out
            rows, readout = self.token_dim, 1
        elif input["kind"] != "tokens":
            raise ValueError(f"transformer: needs token inputs, but the task gives features of dimension {input['dim']}")
        else:
            self.T = int(input["length"])
            rows, readout = int(input["vocab"]), out
        self.out = out
        d = int(spec["dModel"])
        self.spec = spec
        self.heads = int(spec["heads"])
        if d % self.heads != 0:
            raise ValueError(f"transformer: dModel {d} is not divisible by heads {self.heads}")
        self.d = d
        self.d_head = d // self.heads
        self.activation = str(spec["activation"])
        self.embed = Table(rows, d)
        self.pos = Table(self.T, d)
        self.blocks = nn.ModuleList([Block(d, int(spec["dMlp"]), bool(spec["layerNorm"])) for _ in range(int(spec["layers"]))])
        self.lnf: Optional[LayerNorm] = LayerNorm(d) if spec["layerNorm"] else None
        self.unembed = Table(d, readout)
        mask = torch.triu(torch.full((self.T, self.T), -1e9), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        scale = float(self.spec["initScale"])
        std = scale / math.sqrt(self.d)
        for name, p in self.named_parameters():
            if name.endswith((".g", ".b", ".b1", ".b2")):
                continue  # norms and biases keep their 1 / 0
            # The token readout's W_U is N(0, 1/out) (Nanda); the scalar readout's N(0, 1/d) like the rest.
            _normal_(p, scale / math.sqrt(p.shape[1]) if name == "unembed.weight" and not self.every_position else std)

    def _split_heads(self, m: torch.Tensor, batch: int, length: int) -> torch.Tensor:
        """[batch·length, d] → [batch·heads, length, d_head]."""
        return m.reshape(batch, length, self.heads, self.d_head).transpose(1, 2).reshape(batch * self.heads, length, self.d_head)

    def _block(self, b: Block, r: torch.Tensor, batch: int, last_only: bool) -> torch.Tensor:
        T, d = self.T, self.d
        a = b.ln1(r) if b.ln1 is not None else r
        k = self._split_heads(a @ b.attn.wk, batch, T)
        v = self._split_heads(a @ b.attn.wv, batch, T)
        scale = 1 / math.sqrt(self.d_head)
        if last_only:
            # The last query sees every key: no mask needed.
            rq = r.reshape(batch, T, d)[:, T - 1]
            aq = a.reshape(batch, T, d)[:, T - 1]
            q = self._split_heads(aq @ b.attn.wq, batch, 1)
            scores = torch.bmm(q, k.transpose(1, 2)) * scale
            lq = 1
        else:
            rq = r
            q = self._split_heads(a @ b.attn.wq, batch, T)
            scores = torch.bmm(q, k.transpose(1, 2)) * scale + self.mask
            lq = T
        probs = torch.softmax(scores, dim=-1)
        z = torch.bmm(probs, v)  # [batch·heads, lq, d_head]
        merged = z.reshape(batch, self.heads, lq, self.d_head).transpose(1, 2).reshape(batch * lq, d)
        r1 = rq + merged @ b.attn.wo
        m = b.ln2(r1) if b.ln2 is not None else r1
        hidden = activate(torch.addmm(b.mlp.b1, m, b.mlp.w1), self.activation)
        return r1 + torch.addmm(b.mlp.b2, hidden, b.mlp.w2)

    def _embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        if self.every_position:
            rows = (x.reshape(batch * self.T, self.token_dim) @ self.embed.weight).reshape(batch, self.T, self.d)
        else:
            rows = F.embedding(x, self.embed.weight)  # [batch, T, d]
        return (rows + self.pos.weight).reshape(batch * self.T, self.d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        if self.every_position:
            r = self.residual_stream(x)  # every position: each output reads its own token
            read = r[:, 0 :: self.stride].reshape(batch * self.out, self.d)
            if self.lnf is not None:
                read = self.lnf(read)
            return (read @ self.unembed.weight).reshape(batch, self.out)
        r = self._embed_tokens(x)
        n = len(self.blocks)
        for i, b in enumerate(self.blocks):
            assert isinstance(b, Block)
            r = self._block(b, r, batch, i == n - 1)
        if self.lnf is not None:
            r = self.lnf(r)
        return r @ self.unembed.weight

    def residual_stream(self, x: torch.Tensor) -> torch.Tensor:
        """After the final block, every position: [batch, T, d] (for tests and inspection)."""
        batch = x.shape[0]
        r = self._embed_tokens(x)
        for b in self.blocks:
            assert isinstance(b, Block)
            r = self._block(b, r, batch, False)
        return r.reshape(batch, self.T, self.d)


# ---------------------------------------------------------------- deep linear network

class DeepLinear(nn.Module):
    """src/trainer/models/deepLinear.ts: x · W_1 · … · W_L, no biases, entries N(0, initScale²/fan_in)."""

    def __init__(self, spec: Spec, input: Spec, output: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.vocab: Optional[int] = int(input["vocab"]) if input["kind"] == "tokens" else None
        in_dim = int(input["dim"]) if input["kind"] == "features" else int(input["length"]) * int(input["vocab"])
        widths = [in_dim, *[int(h) for h in spec["hidden"]], output_dim(output)]
        self.layers = nn.ModuleList([Linear(widths[i], widths[i + 1], False) for i in range(len(widths) - 1)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.layers:
            assert isinstance(layer, Linear)
            _normal_(layer.weight, float(self.spec["initScale"]) / math.sqrt(layer.weight.shape[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.layers[0]
        assert isinstance(first, Linear)
        h = onehot_dense(x, first.weight, self.vocab) if self.vocab is not None else first(x)
        for layer in list(self.layers)[1:]:
            h = layer(h)
        return h


BUILT_IN = {"mlp": MLP, "transformer": Transformer, "deepLinear": DeepLinear}


class UnsupportedModel(ValueError):
    """A model kind this worker cannot build (a custom tfjs model)."""


def build_model(spec: Spec, input: Spec, output: Spec) -> nn.Module:
    kind = spec.get("kind")
    cls = BUILT_IN.get(str(kind))
    if cls is None:
        name = f' "{spec["name"]}"' if kind == "custom" and "name" in spec else ""
        raise UnsupportedModel(
            f"model kind {kind!r}{name} has no PyTorch implementation: the torch backend runs the built-in "
            "models (mlp, transformer, deepLinear); custom tfjs models run on the tfjs backends (wasm, cpu, native, gpu)"
        )
    return cls(spec, input, output)


# ---------------------------------------------------------------- the trained function

class SystemModel(nn.Module):
    """The function training sees (src/trainer/system.ts `output`): α·(f(w, x) − f(w₀, x)) when
    centred, α·f(w, x) otherwise, and the loss scale 1/α² that keeps α-scaled runs comparable."""

    def __init__(self, model: nn.Module, spec: Spec) -> None:
        super().__init__()
        self.model = model
        self.alpha = float(spec["alpha"]) if spec["kind"] == "mlp" else 1.0
        self.centred = bool(spec["kind"] == "mlp" and spec["centered"])
        self.loss_scale = 1 / (self.alpha * self.alpha)

    def output(self, x: torch.Tensor, f0: Optional[torch.Tensor]) -> torch.Tensor:
        f = self.model(x)
        if self.alpha == 1 and f0 is None:
            return f
        return (f - f0 if f0 is not None else f) * self.alpha


def loss_of(out: torch.Tensor, y: torch.Tensor, classes: bool) -> torch.Tensor:
    """Mean cross-entropy against class ids, or mean squared error over every output (system.ts `lossOf`)."""
    if classes:
        return F.cross_entropy(out, y)
    return torch.mean((out - y) ** 2)


def weighted_loss_of(out: torch.Tensor, y: torch.Tensor, classes: bool, w: torch.Tensor) -> torch.Tensor:
    """(1/B) Σ w_i ℓ_i over a minibatch of B rows, divided by B and not by Σ w_i, so that an example
    of weight 0 leaves every other example's step as it was (train.ts `weightedLossOf`)."""
    if classes:
        per_example = F.cross_entropy(out, y, reduction="none")
    elif out.dim() > 1:
        per_example = torch.mean((out - y) ** 2, dim=-1)
    else:
        per_example = (out - y) ** 2
    return torch.mean(per_example * w)


def named_parameters(model: nn.Module) -> Dict[str, nn.Parameter]:
    return dict(model.named_parameters())
