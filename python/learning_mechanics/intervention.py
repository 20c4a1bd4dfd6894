"""Per-example loss weights of an intervention branch (src/trainer/intervention.ts,
docs/interventions.md), for the worker: which examples, and their weight at update t.

The data order is the parent's; a chosen example keeps its slot in every minibatch and only its
weight changes, and the minibatch's loss stays divided by its size B (weighted_loss_of), so every
other example's step is the parent's. An update whose weights are all 1 gets None, and the loop
then computes the parent's unweighted loss, bit for bit.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

import torch


def action_weight(action: Mapping[str, Any], t: int) -> float:
    """The loss weight of a chosen example at update t (from step t − 1 to t): `actionWeight`."""
    kind = action["kind"]
    if kind == "remove":
        return 0.0
    if kind == "upweight":
        return float(action["weight"])
    if kind == "moveFrom":
        return 1.0 if t > int(action["step"]) else 0.0
    if kind == "moveBefore":
        return 1.0 if t <= int(action["step"]) else 0.0
    raise ValueError(f"unknown intervention action {kind!r}")


class ExampleWeights:
    """`exampleWeights` of intervention.ts: the weights of a minibatch's rows, or None when all are 1."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.action = spec["action"]
        self.chosen = {int(e) for e in spec["examples"]}

    def at(self, t: int, rows: Optional[List[int]], n: int) -> Optional[List[float]]:
        w = action_weight(self.action, t)
        if w == 1:
            return None
        ids = rows if rows is not None else range(n)
        out: Optional[List[float]] = None
        for i, row in enumerate(ids):
            if row in self.chosen:
                if out is None:
                    out = [1.0] * len(ids)
                out[i] = w
        return out


def as_tensor(weights: List[float], device: torch.device) -> torch.Tensor:
    return torch.tensor(weights, dtype=torch.float32, device=device)
