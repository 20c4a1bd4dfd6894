"""The Python logger's cost: the same PyTorch training loop bare and with `learning_mechanics`
logging, interleaved in one process, median of the repeats, and the ratio.

    PYTHONPATH=python .venv/bin/python bench/logger_overhead.py [--steps 3000] [--repeats 3]
        [--threads 1] [--log-every 1] [--checkpoint-every 1000]

Default cadence (the one docs/pytorch.md shows): a `run.log` of the training loss every step and a
checkpoint with the optimizer state every 1,000 steps (the trainer's default `checkpointEvery`),
plus step 0. Both loops read the loss with `loss.item()` every step (as a loop that prints or
logs its loss does; measured here, a loop *without* it ran 1.3x slower on this machine, on both
torch 2.13 and 1.13, which would flatter the logger), so they differ only by the logger's calls.
Prints one line per repeat and a JSON summary.
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
from typing import Dict, List, Optional, Tuple

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import learning_mechanics as lm  # noqa: E402


BATCHES = 100
BATCH = 64


def make(seed: int) -> Tuple[torch.nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    """An MNIST-sized MLP (784-256-256-10, 270k parameters), Adam, and 100 batches of 64 random
    inputs labelled by a random linear teacher, cycled. (A single fixed batch is memorised within
    a few hundred steps; its loss then sinks to 1e-6 and denormal arithmetic makes a step 2–3x
    slower at random moments, which swamps what is measured here.)"""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCHES, BATCH, 784)
    y = (x @ torch.randn(784, 10)).argmax(-1)
    return model, opt, x, y


def train(steps: int, run_dir: Optional[str], log_every: int, checkpoint_every: int) -> Tuple[float, float]:
    """Seconds for `steps` updates, and of those the seconds spent inside the logger's calls
    (`init` with its step-0 checkpoint, `log`, `checkpoint`, `finish`); with `run_dir`, logged
    there at the given cadence."""
    model, opt, x, y = make(0)
    loss_fn = torch.nn.functional.cross_entropy
    clock = time.perf_counter
    inside = 0.0
    t0 = clock()
    run = lm.init(name="bench", config={"steps": steps}, run_dir=run_dir, model=model, optimizer=opt, total_steps=steps) if run_dir else None
    inside += clock() - t0
    for step in range(1, steps + 1):
        b = step % BATCHES
        loss = loss_fn(model(x[b]), y[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if run is not None:
            t = clock()
            if step % log_every == 0:
                run.log({"train_loss": value}, step=step)
            if step % checkpoint_every == 0 or step == steps:
                run.checkpoint(model, opt, step=step)
            inside += clock() - t
    if run is not None:
        t = clock()
        run.finish()
        inside += clock() - t
    return clock() - t0, inside


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=1)
    ap.add_argument("--checkpoint-every", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # both loops alike: no denormal slow-downs in either
    tmp = tempfile.mkdtemp(prefix="lm-logger-bench-")
    times: Dict[str, List[float]] = {"bare": [], "logged": []}
    shares: List[float] = []
    try:
        train(200, None, 1, 10**9)  # warm-up: allocator, kernels
        for i in range(args.repeats):
            for kind in ("bare", "logged") if i % 2 == 0 else ("logged", "bare"):
                run_dir = os.path.join(tmp, f"run-{i}") if kind == "logged" else None
                total, inside = train(args.steps, run_dir, args.log_every, args.checkpoint_every)
                times[kind].append(total)
                note = ""
                if kind == "logged":
                    shares.append(inside / (total - inside))
                    note = f", {1e3 * inside:.0f} ms of it inside the logger ({100 * shares[-1]:.2f} % of the rest)"
                print(f"repeat {i} {kind:6s} {total:.3f} s  ({args.steps / total:.1f} steps/s{note})", flush=True)
        checkpoints = len(os.listdir(os.path.join(tmp, "run-0", "checkpoints")))
        summary: Dict[str, object] = {
            "steps": args.steps,
            "threads": args.threads,
            "log_every": args.log_every,
            "checkpoint_every": args.checkpoint_every,
            "checkpoints_per_run": checkpoints,
            "torch": torch.__version__,
        }
        # Load from other processes only adds time: the minimum is the least disturbed repeat; the
        # median is shown beside it. The time inside the logger's calls, measured within the
        # logged loop, does not depend on how the two loops' disturbances differ.
        for stat, f in (("min", min), ("median", statistics.median)):
            bare, logged = f(times["bare"]), f(times["logged"])
            summary[f"bare_s_{stat}"] = round(bare, 4)
            summary[f"logged_s_{stat}"] = round(logged, 4)
            summary[f"ratio_{stat}"] = round(logged / bare, 4)
            print(f"{stat:6s}: bare loop {bare:.3f} s, with the logger {logged:.3f} s: ratio {logged / bare:.4f} ({100 * (logged / bare - 1):+.2f} %)")
        summary["inside_logger_pct_median"] = round(100 * statistics.median(shares), 3)
        print(f"time inside the logger's calls: {summary['inside_logger_pct_median']} % of the loop's other time (median)")
        print(json.dumps(summary))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
