"""The minibatch order of src/trainer/batches.ts as a pure function of (seed, step).

Each epoch is a fresh permutation from Rng(seed, "batch", epoch), cut into floor(n / size)
batches (the remainder dropped). Reimplemented here rather than streamed from TypeScript: a
permutation costs a few milliseconds per epoch in Python, while sending indices would cost a
message per step (tests/test_rng.py and the node integration test check both sides agree).
"""

from __future__ import annotations

import math
from array import array
from typing import Any, List, Mapping, Optional, Tuple

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
    TypeScript batches without a message per step. Values go through array('f') exactly where
    TypeScript stores them in a Float32Array (x, then y computed from the stored x)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.dim = int(spec["dim"])
        self.points = int(spec["points"])
        self.noise = float(spec["noise"])
        self.width = 2 * self.points * (self.dim + 1)
        tasks = spec.get("tasks")
        self.pool: Optional[List[List[float]]] = None
        if tasks is not None:
            rng = Rng(int(spec["dataSeed"]), "inContextRegression").fork("pool")
            self.pool = [self._draw_w(rng) for _ in range(int(tasks))]

    def _draw_w(self, rng: Rng) -> List[float]:
        std = 1 / math.sqrt(self.dim)
        return [std * rng.normal() for _ in range(self.dim)]

    def batch(self, seed: int, t: int, size: int) -> Tuple["array[float]", "array[float]"]:
        """x [size · width] and y [size · points] (flat float32) of update `t`."""
        rng = Rng(seed, "inContextRegression", "step", t)
        dim, points, width, noise = self.dim, self.points, self.width, self.noise
        x = array("f", bytes(4 * size * width))
        y = array("f", bytes(4 * size * points))
        pool = self.pool
        for s in range(size):
            w = pool[rng.int(len(pool))] if pool is not None else self._draw_w(rng)
            for i in range(points):
                at = s * width + 2 * i * (dim + 1)
                dot = 0.0
                for j in range(dim):
                    x[at + j] = rng.normal()
                    dot += w[j] * x[at + j]
                x[at + 2 * dim + 1] = dot + noise * rng.normal() if noise > 0 else dot
                y[s * points + i] = x[at + 2 * dim + 1]
        return x, y
