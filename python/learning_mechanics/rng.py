"""The deterministic generator of src/sdk/rng.ts (xoshiro128** seeded through splitmix32), bit for bit.

JavaScript does this arithmetic on 32-bit integers (Math.imul, >>>, |0); here every value is kept
as an unsigned 32-bit int and masked after each operation, which gives the same bits. Only what
the worker needs is here: uint32 draws, uniform, int, the Fisher-Yates permutation used for the
minibatch order, and fork / normal for the fresh sequences of inContextRegression (Box-Muller in
doubles with math.log/sin/cos, as `Rng.normal` with Math.log/sin/cos; the two libms agree to the
last bit nearly always, and a one-ulp difference in a double vanishes when the value is stored
as float32, as the sequences are).
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

MASK = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & MASK


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


def _splitmix32(state: int) -> Tuple[int, int]:
    state = (state + 0x9E3779B9) & MASK
    z = state
    z = _imul(z ^ (z >> 16), 0x85EBCA6B)
    z = _imul(z ^ (z >> 13), 0xC2B2AE35)
    z ^= z >> 16
    return state, z


def hash_string(s: str) -> int:
    """FNV-1a over UTF-16 code units, as `hashString` (String.charCodeAt) computes it."""
    h = 0x811C9DC5
    data = s.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = _imul(h, 0x01000193)
    return h


def _label_text(label: Union[str, int]) -> str:
    # String(label) in JS: integers print without a decimal point.
    return label if isinstance(label, str) else str(int(label))


class Rng:
    """`new Rng(seed, ...labels)` of src/sdk/rng.ts."""

    def __init__(self, seed: int, *labels: Union[str, int]) -> None:
        state = (int(seed) & MASK) ^ 0x5BD1E995
        for label in labels:
            state = _imul(state, 31) ^ hash_string(_label_text(label))
        words: List[int] = []
        for _ in range(4):
            state, out = _splitmix32(state)
            words.append(out)
        self.s0, self.s1, self.s2, self.s3 = words
        if (self.s0 | self.s1 | self.s2 | self.s3) == 0:
            self.s0 = 1
        self._spare: Optional[float] = None

    def fork(self, label: Union[str, int]) -> "Rng":
        """A new independent stream from this one's next draw and a label (`Rng.fork`)."""
        return Rng(self.next_uint32(), label)

    def next_uint32(self) -> int:
        result = _imul(_rotl(_imul(self.s1, 5), 7), 9)
        t = (self.s1 << 9) & MASK
        self.s2 ^= self.s0
        self.s3 ^= self.s1
        self.s1 ^= self.s2
        self.s0 ^= self.s3
        self.s2 ^= t
        self.s3 = _rotl(self.s3, 11)
        return result

    def uniform(self) -> float:
        return self.next_uint32() / 4294967296

    def int(self, n: int) -> int:
        # Math.floor(uniform * n) in doubles, as in JS.
        return int(self.uniform() * n)

    def normal(self) -> float:
        """Standard normal by Box-Muller, the second value cached (`Rng.normal`)."""
        if self._spare is not None:
            v = self._spare
            self._spare = None
            return v
        u = 0.0
        while u == 0.0:
            u = self.uniform()
        v = self.uniform()
        r = math.sqrt(-2 * math.log(u))
        self._spare = r * math.sin(2 * math.pi * v)
        return r * math.cos(2 * math.pi * v)

    def normals(self, n: int) -> List[float]:
        """`n` successive `normal()` draws (the same values, the spare cached the same way), with the
        generator's state in locals: about five times faster than n calls, which is what lets the
        worker draw fresh sequences every step without slowing training down."""
        out: List[float] = []
        if n <= 0:
            return out
        if self._spare is not None:
            out.append(self._spare)
            self._spare = None
        s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
        log, sqrt, sin, cos, two_pi = math.log, math.sqrt, math.sin, math.cos, 2 * math.pi
        while len(out) < n:
            u = 0.0
            while u == 0.0:
                r = (((((s1 * 5) & MASK) << 7 | ((s1 * 5) & MASK) >> 25) & MASK) * 9) & MASK
                t = (s1 << 9) & MASK
                s2 ^= s0
                s3 ^= s1
                s1 ^= s2
                s0 ^= s3
                s2 ^= t
                s3 = ((s3 << 11) | (s3 >> 21)) & MASK
                u = r / 4294967296
            r = (((((s1 * 5) & MASK) << 7 | ((s1 * 5) & MASK) >> 25) & MASK) * 9) & MASK
            t = (s1 << 9) & MASK
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = ((s3 << 11) | (s3 >> 21)) & MASK
            v = r / 4294967296
            rad = sqrt(-2 * log(u))
            out.append(rad * cos(two_pi * v))
            out.append(rad * sin(two_pi * v))
        self.s0, self.s1, self.s2, self.s3 = s0, s1, s2, s3
        if len(out) > n:
            self._spare = out.pop()
        return out

    def permutation(self, n: int) -> List[int]:
        """A random permutation of 0..n-1 (in-place Fisher-Yates from the end, as `Rng.permutation`)."""
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            p[i], p[j] = p[j], p[i]
        return p
