#!/usr/bin/env python3
"""PyTorch CPU reference for bench/: trains a canonical system with the same model and
hyperparameters as the tfjs trainer and prints ONE JSON line with steps/s, GFLOP/s and losses.

Run with Debian's torch (the pyenv python on PATH may not have it):

    /usr/bin/python3 bench/reference_torch.py mlp [--threads 1] [--steps 200] [--repeats 5]
    /usr/bin/python3 bench/reference_torch.py transformer --threads 2

Systems
  mlp          modular addition p=97, input = concat(one_hot(a), one_hot(b)) (dim 194),
               Linear(194,256)+ReLU, Linear(256,97), cross-entropy, full batch over the
               train split (30% of 97^2 = 2,822 examples), Adam lr 1e-3.
  transformer  Nanda et al. 2023 ("Progress measures for grokking"): p=113, tokens [a, b, =]
               (vocab p+1 = 114, "=" is token 113), 1 layer, d_model 128, 4 heads (d_head 32),
               d_mlp 512, ReLU, no LayerNorm, learned positional embedding, causal attention,
               unembed read at the last position only (d_vocab_out = p = 113), cross-entropy,
               full batch over the train split (30% of 113^2 = 3,830 examples),
               AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98).
               (Nanda's run also has a 10-step linear LR warmup and a float64 log-softmax;
               both are left out: they do not change the cost of a step.)

FLOP count (documented in bench/README.md): forward matmul FLOPs only, 2*m*k*n per product
[m,k]x[k,n], times 3 for forward + backward (backward = dX and dW, each as big as forward).
Elementwise ops, softmax, embedding gathers and the optimizer update are not counted.
  mlp:          F_fwd = 2*N*(194*256 + 256*97)
  transformer:  per example, T = 3 tokens, d = 128, H*dh = 128:
                  QKV   3 * 2*T*d*d
                  QK^T  2*T*T*d          (all heads together)
                  AV    2*T*T*d
                  O     2*T*d*d
                  MLP   2 * 2*T*d*d_mlp
                  unembed 2*d*p          (last position only)
                F_fwd = N * sum of the above
  GFLOP/s = 3 * F_fwd * steps_per_s / 1e9.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def split(p: int, frac: float, seed: int):
    """All (a, b) pairs, a random `frac` of them for training (floor)."""
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(p * p, generator=g)
    n_train = int(math.floor(frac * p * p))
    idx = perm[:n_train]
    return a[idx], b[idx], (a[idx] + b[idx]) % p


# ---------------------------------------------------------------- MLP

class MLP(nn.Module):
    def __init__(self, p: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(2 * p, hidden)
        self.fc2 = nn.Linear(hidden, p)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def make_mlp(seed: int):
    p, hidden, frac = 97, 256, 0.3
    a, b, y = split(p, frac, seed)
    x = torch.cat([F.one_hot(a, p), F.one_hot(b, p)], dim=1).float()
    torch.manual_seed(seed)
    model = MLP(p, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x.shape[0]
    flops_fwd = 2 * n * (2 * p * hidden + hidden * p)
    return model, opt, x, y, flops_fwd, {"p": p, "hidden": hidden, "n_train": n, "optimizer": "Adam lr=1e-3"}


# ---------------------------------------------------------------- Transformer (Nanda et al. 2023)

class OneLayerTransformer(nn.Module):
    """Same parameterisation and init as Nanda's grokking code (no LayerNorm)."""

    def __init__(self, d_vocab: int, d_out: int, d_model: int, n_heads: int, d_mlp: int, n_ctx: int):
        super().__init__()
        dh = d_model // n_heads
        self.n_heads, self.dh = n_heads, dh
        s = 1 / math.sqrt(d_model)
        self.W_E = nn.Parameter(torch.randn(d_vocab, d_model) * s)
        self.W_pos = nn.Parameter(torch.randn(n_ctx, d_model) * s)
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_model, dh) * s)
        self.W_K = nn.Parameter(torch.randn(n_heads, d_model, dh) * s)
        self.W_V = nn.Parameter(torch.randn(n_heads, d_model, dh) * s)
        self.W_O = nn.Parameter(torch.randn(n_heads * dh, d_model) * s)
        self.W_in = nn.Parameter(torch.randn(d_model, d_mlp) * s)
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.randn(d_mlp, d_model) / math.sqrt(d_mlp))
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.W_U = nn.Parameter(torch.randn(d_model, d_out) / math.sqrt(d_out))
        self.register_buffer("mask", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)))

    def forward(self, tokens):  # tokens [B, T]
        B, T = tokens.shape
        x = self.W_E[tokens] + self.W_pos[:T]                       # [B, T, d]
        q = torch.einsum("btd,hde->bhte", x, self.W_Q)               # [B, H, T, dh]
        k = torch.einsum("btd,hde->bhte", x, self.W_K)
        v = torch.einsum("btd,hde->bhte", x, self.W_V)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)        # [B, H, T, T]
        scores = scores.masked_fill(~self.mask[:T, :T], -1e10)
        attn = scores.softmax(dim=-1)
        z = (attn @ v).transpose(1, 2).reshape(B, T, self.n_heads * self.dh)
        x = x + z @ self.W_O
        x = x + F.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out
        return x[:, -1] @ self.W_U                                   # [B, p]


def make_transformer(seed: int):
    p, d_model, n_heads, d_mlp, frac, T = 113, 128, 4, 512, 0.3, 3
    a, b, y = split(p, frac, seed)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    torch.manual_seed(seed)
    model = OneLayerTransformer(p + 1, p, d_model, n_heads, d_mlp, T)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    n = tokens.shape[0]
    d = d_model
    per_ex = 3 * 2 * T * d * d + 2 * T * T * d + 2 * T * T * d + 2 * T * d * d + 2 * 2 * T * d * d_mlp + 2 * d * p
    return model, opt, tokens, y, n * per_ex, {
        "p": p, "d_model": d_model, "n_heads": n_heads, "d_mlp": d_mlp, "n_train": n,
        "optimizer": "AdamW lr=1e-3 wd=1 betas=(0.9,0.98)",
    }


SYSTEMS = {"mlp": make_mlp, "transformer": make_transformer}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("system", choices=sorted(SYSTEMS))
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--steps", type=int, default=0, help="steps per timed repeat (default: ~1 s worth)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats; the median is reported")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model, opt, x, y, flops_fwd, info = SYSTEMS[args.system](args.seed)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    first_loss = None
    for i in range(args.warmup):
        l = step()
        if first_loss is None:
            first_loss = float(l)
    steps = args.steps
    if steps <= 0:  # calibrate to ~1 s per repeat
        t0 = time.perf_counter()
        for _ in range(5):
            step()
        steps = max(5, int(5 / (time.perf_counter() - t0)))
    rates = []
    total = args.warmup + (5 if args.steps <= 0 else 0)
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            l = step()
        float(l)
        rates.append(steps / (time.perf_counter() - t0))
        total += steps
    rates.sort()
    med = rates[len(rates) // 2]
    flops_step = 3 * flops_fwd
    print(json.dumps({
        "system": args.system,
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": args.threads,
        "steps_per_s": round(med, 2),
        "steps_per_s_all": [round(r, 2) for r in rates],
        "gflops_per_s": round(flops_step * med / 1e9, 2),
        "gflop_per_step": round(flops_step / 1e9, 4),
        "steps_per_repeat": steps,
        "total_steps": total,
        "first_loss": round(first_loss, 5),
        "final_loss": round(float(l), 5),
        **info,
        "python": platform.python_version(),
    }), flush=True)


if __name__ == "__main__":
    main()
