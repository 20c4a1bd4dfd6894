"""Per-example loss weights (intervention.py, models.weighted_loss_of) against intervention.ts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from learning_mechanics.intervention import ExampleWeights, action_weight
from learning_mechanics.models import loss_of, weighted_loss_of


def test_action_weights_by_update() -> None:
    assert action_weight({"kind": "remove"}, 5) == 0
    assert action_weight({"kind": "upweight", "weight": 3}, 5) == 3
    # moveFrom s: seen only from step s on (updates t > s); moveBefore s: only updates t <= s.
    assert [action_weight({"kind": "moveFrom", "step": 4}, t) for t in (4, 5)] == [0, 1]
    assert [action_weight({"kind": "moveBefore", "step": 4}, t) for t in (4, 5)] == [1, 0]


def test_weights_of_a_minibatch_none_when_all_are_one() -> None:
    w = ExampleWeights({"action": {"kind": "remove"}, "examples": [3, 7]})
    assert w.at(1, [0, 3, 5, 7], 10) == [1.0, 0.0, 1.0, 0.0]
    assert w.at(1, [0, 1, 2], 10) is None  # no chosen row: the parent's loss, unweighted
    assert w.at(1, None, 4) == [1.0, 1.0, 1.0, 0.0]  # full batch: rows 0..n-1
    assert ExampleWeights({"action": {"kind": "upweight", "weight": 1}, "examples": [0]}).at(1, [0], 5) is None


def test_weighted_loss_divides_by_the_batch_size() -> None:
    torch.manual_seed(0)
    out, y = torch.randn(6, 3), torch.randn(6, 3)
    ones = torch.ones(6)
    assert torch.allclose(weighted_loss_of(out, y, False, ones), loss_of(out, y, False))
    w = torch.tensor([1.0, 0.0, 1.0, 1.0, 2.0, 1.0])
    per = ((out - y) ** 2).mean(-1)
    assert torch.allclose(weighted_loss_of(out, y, False, w), (per * w).sum() / 6)
    logits, cls = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.allclose(weighted_loss_of(logits, cls, True, ones), loss_of(logits, cls, True))
    ce = F.cross_entropy(logits, cls, reduction="none")
    assert torch.allclose(weighted_loss_of(logits, cls, True, w), (ce * w).sum() / 6)
