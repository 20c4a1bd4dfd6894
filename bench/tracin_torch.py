"""TracIn per checkpoint in Python (python/learning_mechanics/analyses/tracin.py, for run.watch)
against one forward+backward pass over the same examples, timed in the same run.

The grokking MLP of bench/tracin.bench.ts written as a researcher would: nn.Sequential(Linear(2p,
256), ReLU, Linear(256, p)) on concatenated one-hot inputs, p = 97, train fraction 0.3 (2,823
train / 6,586 test examples), cross-entropy. The reference is what a training step costs: the mean
loss over the training examples, forward and backward for every parameter. TracIn is
`compute_tracin` as run.watch calls it per checkpoint (the projection built once beforehand, as
run.watch keeps it for the run): the query's mean gradient, one forward-mode pass over the training
examples, and the projection error on 8 examples. Median CPU time of --reps after a warm-up (one
thread by default, so CPU time is the work done; wall time depends on what else runs).

    PYTHONPATH=python .venv/bin/python bench/tracin_torch.py [--reps 7] [--threads 1] [--profile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, List

import torch
import torch.nn.functional as F
from torch import nn

from learning_mechanics.analyses.tracin import compute_tracin, make_projection


def data(p: int, fraction: float, seed: int = 0):
    pairs = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(p * p, generator=g)
    cut = int(round(fraction * p * p))
    x = torch.cat([F.one_hot(pairs[:, 0], p), F.one_hot(pairs[:, 1], p)], 1).float()
    y = (pairs[:, 0] + pairs[:, 1]) % p
    tr, te = perm[:cut], perm[cut:]
    return (x[tr], y[tr]), (x[te], y[te])


def median_ms(reps: int, f: Callable[[], object]) -> float:
    """Median CPU time of the process (ms). With one thread it is the work done, whatever else runs
    on the machine: wall time swung 3x between runs with other jobs on both cores, CPU time ±10%."""
    f()  # warm-up
    times: List[float] = []
    for _ in range(reps):
        t0 = time.process_time()
        f()
        times.append((time.process_time() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="torch.profiler table of one TracIn pass")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    p = 97
    train, test = data(p, 0.3)
    model = nn.Sequential(nn.Linear(2 * p, 256), nn.ReLU(), nn.Linear(256, p))
    loss_fn = nn.CrossEntropyLoss()

    def fwd_bwd(x: torch.Tensor, y: torch.Tensor) -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    rows = []
    reference = median_ms(args.reps, lambda: fwd_bwd(*train))
    queries = (("64 test examples", (test[0][:64], test[1][:64])), ("test set (6,586)", test))
    # TracIn also takes the query's gradient: fwd+bwd over train ∪ query is the other fair reference.
    union = {
        label: median_ms(args.reps, lambda q=q: fwd_bwd(torch.cat([train[0], q[0]]), torch.cat([train[1], q[1]])))
        for label, q in queries
    }
    for k in (16, 64):
        settings = {"every": 1, "projectionDim": k, "query": {"kind": "test", "count": 64}, "trainExamples": 0}
        projection = make_projection(model, settings, seed=0)
        t0 = time.perf_counter()
        projection.lift(torch.zeros(projection.dim))  # draws every matrix (otherwise done by the first call)
        build = (time.perf_counter() - t0) * 1000
        for label, query in queries:
            ms = median_ms(
                args.reps,
                lambda: compute_tracin(model, loss_fn, train, query, settings, 1e-3, step=0, seed=0, projection=projection),
            )
            rows.append({"k": k, "query": label, "ms": round(ms, 1), "ratio": round(ms / reference, 2),
                         "ratio_union": round(ms / union[label], 2), "projection_build_ms": round(build, 1),
                         "dim": projection.dim})
    print(f"fwd+bwd over {train[0].shape[0]} train examples: {reference:.1f} ms CPU (median of {args.reps}, {args.threads} thread)")
    for label, ms in union.items():
        print(f"fwd+bwd over train + query ({label}): {ms:.1f} ms")
    for r in rows:
        print(f"TracIn LoGra {r['k']}x{r['k']} (D = {r['dim']}), query = {r['query']}: {r['ms']} ms = {r['ratio']}x fwd+bwd"
              f" over train, {r['ratio_union']}x over train + query  (matrices drawn once: {r['projection_build_ms']} ms)")
    if args.profile:
        settings = {"projectionDim": 64}
        projection = make_projection(model, settings, seed=0)
        with torch.profiler.profile() as prof:
            compute_tracin(model, loss_fn, train, (test[0][:64], test[1][:64]), settings, 1e-3, step=0, seed=0,
                           projection=projection)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "reference_ms": round(reference, 1), "union_ms": {k: round(v, 1) for k, v in union.items()}, "tracin": rows}))


if __name__ == "__main__":
    main()
