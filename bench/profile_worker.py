#!/usr/bin/env python3
"""Where a worker step's time goes: runs learning_mechanics.worker.Run in-process on the canonical
systems of bench/ (same shapes as bench/reference_torch.py; random init, since only the cost
matters) under torch.profiler and prints the top operators, plus the share of the step spent
outside torch operators (Python, the batch order, the protocol).

    PYTHONPATH=python python3 bench/profile_worker.py mlp [--steps 50] [--threads 1]
"""
import argparse
import io
import json
import math
import os
import sys
import tempfile
import time

import torch

from learning_mechanics import tensorfile
from learning_mechanics.models import build_model
from learning_mechanics.protocol import PROTOCOL_VERSION, Channel
from learning_mechanics.worker import Requests, Run

CONST = {"warmupSteps": 0, "decay": "constant", "minLrFraction": 0}
SYSTEMS = {
    "mlp": dict(
        p=97, equals=False,
        model={"kind": "mlp", "embed": "onehot", "hidden": [256], "activation": "relu", "initScale": 1.0, "alpha": 1.0, "centered": False, "bias": True},
        optimizer={"kind": "adam", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0, "schedule": CONST},
    ),
    "transformer": dict(
        p=113, equals=True,
        model={"kind": "transformer", "layers": 1, "dModel": 128, "heads": 4, "dMlp": 512, "activation": "relu", "layerNorm": False, "initScale": 1.0},
        optimizer={"kind": "adamw", "lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-8, "weightDecay": 1.0, "schedule": CONST},
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("system", choices=sorted(SYSTEMS))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    s = SYSTEMS[args.system]
    p = s["p"]
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    cols = [a, b] + ([torch.full_like(a, p)] if s["equals"] else [])
    x = torch.stack(cols, 1).to(torch.int32)
    y = ((a + b) % p).to(torch.int32)
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(0))
    n = int(math.floor(0.3 * p * p))
    inp = {"kind": "tokens", "vocab": p + (1 if s["equals"] else 0), "length": len(cols)}
    out = {"kind": "classes", "count": p}
    model = build_model(s["model"], inp, out)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.safetensors")
        tensors = {"data/train.x": x[perm[:n]], "data/train.y": y[perm[:n]], "data/test.x": x[perm[n:]], "data/test.y": y[perm[n:]]}
        tensors.update({f"param/{k}": v.detach() for k, v in model.named_parameters()})
        tensorfile.write(path, tensors)
        system = {"model": s["model"], "optimizer": s["optimizer"], "input": inp, "output": out, "steps": args.steps, "batchSize": "full",
                  "evalEvery": 10**6, "checkpointEvery": 10**6, "seed": 0, "params": [{"name": k, "shape": list(v.shape)} for k, v in model.named_parameters()]}
        start = {"type": "start", "protocol": PROTOCOL_VERSION, "system": system, "tensorsFile": path, "exchangeDir": d, "device": "cpu", "threads": args.threads, "fromStep": 0, "optimizerT": 0}
        sink = io.StringIO()
        run = Run(start, Channel(sink), Requests(io.StringIO("")))  # type: ignore[arg-type]
        run.requests.stop.clear()
        run.requests.eof.clear()
        run.from_step = 1  # skip the step-0 evaluation and checkpoint: only steps are profiled
        t0 = time.perf_counter()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            run.run()
        wall = time.perf_counter() - t0
    steps = args.steps - 1
    ev = prof.key_averages()
    # Self CPU time summed over every operator: what torch spent; the rest is Python around it.
    torch_us = sum(e.self_cpu_time_total for e in ev)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))
    print(json.dumps({"system": args.system, "steps": steps, "ms_per_step": round(1000 * wall / steps, 2),
                      "torch_ops_ms_per_step": round(torch_us / 1000 / steps, 2),
                      "outside_ops_share": round(1 - torch_us / 1e6 / wall, 3), "note": "profiler overhead inflates both"}))


if __name__ == "__main__":
    main()
