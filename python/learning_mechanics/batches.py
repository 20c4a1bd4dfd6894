"""The minibatch order of src/trainer/batches.ts as a pure function of (seed, step).

Each epoch is a fresh permutation from Rng(seed, "batch", epoch), cut into floor(n / size)
batches (the remainder dropped). Reimplemented here rather than streamed from TypeScript: a
permutation costs a few milliseconds per epoch in Python, while sending indices would cost a
message per step (tests/test_rng.py and the node integration test check both sides agree).
"""

from __future__ import annotations

from typing import List, Optional

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
