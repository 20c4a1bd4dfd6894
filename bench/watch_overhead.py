"""`run.watch` against the same PyTorch loop without it, in one process: the grokking MLP of
examples/grokking.experiment.ts (a + b mod 59, train fraction 0.4, one-hot inputs, hidden 256,
ReLU, full batch, AdamW lr 3e-3, weight decay 1, betas (0.9, 0.98)), a checkpoint every 250 steps
as there, the analyses at their default cadence (every checkpoint: kernel on 64 probe examples with
CKA, Fourier, TracIn when installed, conservation laws; sharpness every 8th checkpoint; BIF and LLC
off as by default; bench/watch_lenses.py prints the three lenses' cost one by one). Three loops, interleaved over the
repeats, median: bare; with the logger (init/log/checkpoint); with the logger and run.watch.
The time inside the analyses is measured directly (wall and process CPU time of the watcher's
catch-up at each checkpoint and at the end), so the ratio does not drown in the noise of a shared
machine; prints one JSON line; `analyses / bare` is the share the issue bounds at 25%.

    PYTHONPATH=python .venv/bin/python bench/watch_overhead.py [--steps 1000] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import learning_mechanics as lm  # noqa: E402
from learning_mechanics.analyses import influence  # noqa: E402

P = 59


class OneHotMLP(nn.Module):
    """Token ids [n, 2] → one-hot [n, 2p] → Linear(2p, 256) → ReLU → Linear(256, p)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * P, 256), nn.ReLU(), nn.Linear(256, P))
        # Rows of the identity rather than F.one_hot, which vmap cannot batch (the per-example
        # gradients of TracIn need vmap; the kernel would fall back to a loop).
        self.register_buffer("eye", torch.eye(P), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.eye[x].reshape(x.shape[0], -1))


def data() -> tuple:
    g = torch.Generator().manual_seed(0)
    pairs = torch.cartesian_prod(torch.arange(P), torch.arange(P))
    y = (pairs[:, 0] + pairs[:, 1]) % P
    perm = torch.randperm(P * P, generator=g)
    n = int(0.4 * P * P)
    return pairs[perm[:n]], y[perm[:n]], pairs[perm[n:]], y[perm[n:]]


def loop(mode: str, steps: int, every: int, root: str) -> dict:
    torch.manual_seed(0)
    x, y, xt, yt = data()
    model = OneHotMLP()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))
    run = None
    watcher = None
    t0, c0 = time.perf_counter(), time.process_time()
    if mode != "bare":
        run = lm.init("grokking", run_dir=os.path.join(root, f"{mode}-{time.time_ns()}"), model=model, optimizer=opt)
        if mode == "watched":
            watcher = run.watch(model, F.cross_entropy, train=(x, y), query=(xt, yt), analyses={"fourier": {"embedding": "net.0.weight", "p": P}})
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if run is not None:
            run.log({"loss/train": loss.item(), "lr": 3e-3}, step=step)
            if step % every == 0:
                run.checkpoint(model, opt, step=step)
        else:
            loss.item()  # the same synchronisation as the logged loops
    if run is not None:
        run.finish()
    out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    if watcher is not None:
        out["analyses_wall"], out["analyses_cpu"] = watcher.seconds, watcher.cpu_seconds
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--checkpoint-every", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = tempfile.mkdtemp(prefix="lm-watch-bench-")
    times = {"bare": [], "logged": [], "watched": []}
    try:
        loop("bare", 20, args.checkpoint_every, root)  # warm-up
        for _ in range(args.repeats):
            for mode in times:
                times[mode].append(loop(mode, args.steps, args.checkpoint_every, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = lambda mode, key: statistics.median(t[key] for t in times[mode])  # noqa: E731
    checkpoints = args.steps // args.checkpoint_every + 1
    print(json.dumps({
        "system": f"grokking MLP (p={P}, one-hot, hidden 256, {int(0.4 * P * P)} examples, full batch, AdamW)",
        "steps": args.steps,
        "checkpoints": checkpoints,
        "analyses": ["kernel", "fourier"] + (["tracin"] if influence.available("tracin") else []) + ["sharpness (every 8th)", "conservation"],
        "threads": args.threads,
        "torch": torch.__version__,
        "bare_wall_s": round(med("bare", "wall"), 3),
        "bare_cpu_s": round(med("bare", "cpu"), 3),
        "logged_wall_s": round(med("logged", "wall"), 3),
        "watched_wall_s": round(med("watched", "wall"), 3),
        "analyses_wall_s": round(med("watched", "analyses_wall"), 3),
        "analyses_cpu_s": round(med("watched", "analyses_cpu"), 3),
        "analyses_per_checkpoint_cpu_s": round(med("watched", "analyses_cpu") / checkpoints, 3),
        "analyses / bare (cpu)": round(med("watched", "analyses_cpu") / med("bare", "cpu"), 3),
        "analyses / bare (wall)": round(med("watched", "analyses_wall") / med("bare", "wall"), 3),
        "runs": {k: [{kk: round(vv, 3) for kk, vv in t.items()} for t in v] for k, v in times.items()},
    }))


if __name__ == "__main__":
    main()
