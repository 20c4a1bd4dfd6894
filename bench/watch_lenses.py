"""The three lenses of `run.watch` (sharpness, conservation laws, LLC; docs/analyses.md) per
checkpoint, against one forward+backward pass over the training set, on the grokking MLP of
bench/watch_overhead.py (p = 59, one-hot, hidden 256, 1,392 examples, AdamW). The model is trained
for `--warm` steps first (a checkpoint in the middle of a run, with Adam moments: the sharpness
computes the preconditioned one too), then each analysis runs at its default settings
(python/learning_mechanics/analyses/settings.py: sharpness 2 eigenvalues, ≤ 20 products; LLC 4 chains
× (100 + 200) SGLD steps on minibatches of 256 plus L_n at each of the 800 draws). Prints one JSON
line: CPU seconds per checkpoint, the ratio to one forward+backward, and the share of training time
at the default cadence with a checkpoint every `--checkpoint-every` steps (sharpness every 8th
checkpoint, conservation every one, LLC off by default: its share is what `every: 1` would cost).

    PYTHONPATH=python .venv/bin/python bench/watch_lenses.py [--warm 250] [--checkpoint-every 250] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
from learning_mechanics.analyses.conservation import conservation_record, conserved_quantities, detect_symmetries  # noqa: E402
from learning_mechanics.analyses.llc import compute_llc  # noqa: E402
from learning_mechanics.analyses.optim_state import from_metadata, moments_from_optimizer  # noqa: E402
from learning_mechanics.analyses.settings import defaults  # noqa: E402
from learning_mechanics.analyses.sharpness import compute_sharpness  # noqa: E402
from watch_overhead import OneHotMLP, data  # noqa: E402


def cpu(fn) -> tuple:
    c = time.process_time()
    out = fn()
    return time.process_time() - c, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", type=int, default=250)
    ap.add_argument("--checkpoint-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y, _, _ = data()
    model = OneHotMLP()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))
    steps = []
    for _ in range(args.warm):
        c = time.process_time()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        steps.append(time.process_time() - c)
    step_s = statistics.median(steps)

    def fwd_bwd() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    fb = statistics.median(cpu(fwd_bwd)[0] for _ in range(10))
    s = defaults()
    names = {id(p): n for n, p in model.named_parameters()}
    meta = {"class": "AdamW", "t": args.warm, "groups": [{"lr": 3e-3, "weight_decay": 1.0, "betas": [0.9, 0.98], "eps": 1e-8}]}
    info = from_metadata(meta)
    moments = moments_from_optimizer(opt, names)

    def sharp():
        return compute_sharpness(model, F.cross_entropy, (x, y), s["sharpness"], step=args.warm, lr=3e-3, optimizer=info, moments=moments)

    def conserve():
        d = detect_symmetries(model, F.cross_entropy, x[:32], y[:32])
        params = dict(model.named_parameters())
        q0 = [conserved_quantities(sym.law, params) for sym in d.symmetries]
        return conservation_record(args.warm, 0, d.symmetries, q0, params, info, d.notes)

    def llc():
        return compute_llc(model, F.cross_entropy, (x, y), s["llc"], step=args.warm)

    out = {}
    for name, fn in (("sharpness", sharp), ("conservation", conserve), ("llc", llc)):
        runs = [cpu(fn) for _ in range(1 if name == "llc" else args.repeats)]
        seconds = statistics.median(r[0] for r in runs)
        record = runs[-1][1]
        every = s[name]["every"] or 1
        out[name] = {
            "per_checkpoint_cpu_s": round(seconds, 4),
            "x_forward_backward": round(seconds / fb, 1),
            "every": s[name]["every"],
            "share_of_training": round(seconds / every / (step_s * args.checkpoint_every), 4),
        }
        if name == "sharpness":
            out[name]["products"] = record["iterations"]
            out[name]["eigenvalues"] = [round(v, 3) for v in record["eigenvalues"]]
            out[name]["preconditioned"] = record["preconditioned"] and round(record["preconditioned"], 2)
        if name == "llc":
            out[name]["llc"] = record["llc"] and round(record["llc"], 2)
        if name == "conservation":
            out[name]["symmetries"] = [f"{q['kind']} {q['layer']}" for q in record["symmetries"]]
    print(json.dumps({
        "system": f"grokking MLP (p=59, one-hot, hidden 256, {x.shape[0]} examples, AdamW), checkpoint after {args.warm} steps",
        "torch": torch.__version__,
        "threads": args.threads,
        "forward_backward_cpu_s": round(fb, 4),
        "train_step_cpu_s": round(step_s, 4),
        "checkpoint_every": args.checkpoint_every,
        **out,
        "default_share (sharpness + conservation)": round(out["sharpness"]["share_of_training"] + out["conservation"]["share_of_training"], 4),
    }))


if __name__ == "__main__":
    main()
