"""The minibatch order of src/trainer/batches.ts as a pure function of (seed, step).

Each epoch is a fresh permutation from Rng(seed, "batch", epoch), cut into floor(n / size)
batches (the remainder dropped). Reimplemented here rather than streamed from TypeScript: a
permutation costs a few milliseconds per epoch in Python, while sending indices would cost a
message per step (tests/test_rng.py and the node integration test check both sides agree).
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any, List, Mapping, Optional, Tuple

import torch

from .rng import Rng


class BatchSchedule:
    def __init__(self, n: int, size: int, seed: int) -> None:
        self.n = n
        self.size = size
        self.seed = seed
        self.per_epoch = max(1, n // size)
        self._epoch = -1
        self._perm: List[int] = []

    def indices(self, t: int) -> List[int]:
        """Indices of the examples of update `t` (1-based)."""
        epoch = (t - 1) // self.per_epoch
        j = (t - 1) % self.per_epoch
        if epoch != self._epoch:
            self._perm = Rng(self.seed, "batch", epoch).permutation(self.n)
            self._epoch = epoch
        return self._perm[j * self.size : (j + 1) * self.size]


def batch_schedule(batch_size: object, n: int, seed: int) -> Optional[BatchSchedule]:
    """None for full-batch training ("full", or a size of at least n), as the TypeScript loop decides."""
    if batch_size == "full" or not isinstance(batch_size, int) or batch_size >= n:
        return None
    return BatchSchedule(n, batch_size, seed)


class FreshSequences:
    """The fresh training sequences of tasks.inContextRegression without a fixed training set
    (src/trainer/tasks/inContextRegression.ts `freshSequences`): update t's batch is a pure function
    of (seed, t), drawn here from the same generator in the same order, so torch trains on the
    TypeScript batches without a message per step. The draws are sequential (Rng.normals); the rest
    is elementwise float64 arithmetic in TypeScript's order (w·x summed j = 0, 1, … as its loop
    does, each product and sum rounded alone), rounded to float32 where TypeScript stores into a
    Float32Array (x, then y computed from the stored x): the same bits."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.dim = int(spec["dim"])
        self.points = int(spec["points"])
        self.noise = float(spec["noise"])
        self.std = 1 / math.sqrt(self.dim)
        tasks = spec.get("tasks")
        self.pool: Optional[List[List[float]]] = None
        if tasks is not None:
            rng = Rng(int(spec["dataSeed"]), "inContextRegression").fork("pool")
            self.pool = [self._draw_w(rng) for _ in range(int(tasks))]

    def _draw_w(self, rng: Rng) -> List[float]:
        return [self.std * v for v in rng.normals(self.dim)]

    def batch(self, seed: int, t: int, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """x [size, 2·points·(dim + 1)] and y [size, points], float32, of update `t`."""
        rng = Rng(seed, "inContextRegression", "step", t)
        dim, points, noise, pool = self.dim, self.points, self.noise, self.pool
        per_point = dim + 1 if noise > 0 else dim  # x_i's entries, then ε_i
        ws: List[List[float]] = []
        draws: List[float] = []
        for _ in range(size):
            ws.append(pool[rng.int(len(pool))] if pool is not None else self._draw_w(rng))
            draws.extend(rng.normals(points * per_point))
        d = torch.tensor(draws, dtype=torch.float64).reshape(size, points, per_point)
        x32 = d[..., :dim].to(torch.float32)
        xd = x32.to(torch.float64)
        w = torch.tensor(ws, dtype=torch.float64).reshape(size, 1, dim)
        dot = w[..., 0] * xd[..., 0]
        for j in range(1, dim):
            dot = dot + w[..., j] * xd[..., j]
        y32 = (dot + noise * d[..., dim] if noise > 0 else dot).to(torch.float32)
        x = torch.zeros(size, points, 2, dim + 1, dtype=torch.float32)
        x[:, :, 0, :dim] = x32
        x[:, :, 1, dim] = y32
        return x.reshape(size, -1), y32


class Prefetched:
    """Fresh batches for updates from+1, from+2, … drawn on a thread, a few ahead of the loop.

    Drawing a batch is pure Python (the generator is sequential), the update is mostly torch
    kernels that release the GIL, so the two overlap; each batch is still a pure function of
    (seed, t), so the values do not depend on the timing."""

    AHEAD = 4

    def __init__(self, fresh: FreshSequences, seed: int, size: int, first: int, last: int) -> None:
        self._queue: "queue.Queue[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]" = queue.Queue(maxsize=self.AHEAD)
        self._fresh, self._seed, self._size = fresh, seed, size
        threading.Thread(target=self._run, args=(first, last), name="lm-fresh-batches", daemon=True).start()

    def _run(self, first: int, last: int) -> None:
        for t in range(first, last + 1):
            self._queue.put((t, self._fresh.batch(self._seed, t, self._size)))

    def batch(self, t: int) -> Tuple[torch.Tensor, torch.Tensor]:
        got, b = self._queue.get()
        if got != t:
            raise RuntimeError(f"fresh batches out of order: expected update {t}, got {got}")
        return b
