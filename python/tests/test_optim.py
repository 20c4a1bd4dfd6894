"""Schedules and optimizer state: the values of src/trainer/optimizers.ts, resume = uninterrupted."""

import math

import pytest
import torch

from learning_mechanics.optim import Optimizer, scheduled_lr

CONST = {"warmupSteps": 0, "decay": "constant", "minLrFraction": 0}


def test_schedules() -> None:
    warm = {"warmupSteps": 10, "decay": "constant", "minLrFraction": 0}
    assert scheduled_lr(1.0, warm, 1, 100) == 0.1
    assert scheduled_lr(1.0, warm, 10, 100) == 1.0
    assert scheduled_lr(1.0, warm, 11, 100) == 1.0
    cos = {"warmupSteps": 10, "decay": "cosine", "minLrFraction": 0.1}
    assert math.isclose(scheduled_lr(2.0, cos, 55, 100), 0.2 + 1.8 * (1 + math.cos(math.pi * 0.5)) / 2)
    assert math.isclose(scheduled_lr(2.0, cos, 100, 100), 0.2)
    lin = {"warmupSteps": 0, "decay": "linear", "minLrFraction": 0}
    assert math.isclose(scheduled_lr(1.0, lin, 25, 100), 0.75)
    assert scheduled_lr(1.0, lin, 200, 100) == 0.0  # clamped after the last step


def quadratic_run(spec: dict, steps: int, resume_at: int = -1) -> torch.Tensor:
    torch.manual_seed(0)
    target = torch.randn(4, 3)
    w = torch.nn.Parameter(torch.zeros(4, 3))
    opt = Optimizer(spec, {"w": w}, steps)
    for s in range(steps):
        if s == resume_at:
            t, slots = opt.export_state()
            w = torch.nn.Parameter(w.detach().clone())
            opt = Optimizer(spec, {"w": w}, steps)
            opt.import_state(t, {k: v.clone() for k, v in slots.items()})
        opt.zero_grad()
        loss = ((w - target) ** 2).sum()
        loss.backward()
        opt.step()
    return w.detach()


SPECS = [
    {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 0.01, "schedule": CONST},
    {"kind": "adam", "lr": 0.01, "betas": [0.9, 0.98], "eps": 1e-8, "weightDecay": 0.1, "schedule": {"warmupSteps": 3, "decay": "cosine", "minLrFraction": 0}},
    {"kind": "adamw", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 1.0, "schedule": CONST},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s["kind"])
def test_resume_equals_uninterrupted(spec: dict) -> None:
    assert torch.equal(quadratic_run(spec, 20), quadratic_run(spec, 20, resume_at=7))


def test_adam_by_hand() -> None:
    """One AdamW update written out as src/trainer/optimizers.ts does it."""
    spec = {"kind": "adamw", "lr": 0.1, "betas": [0.9, 0.99], "eps": 1e-8, "weightDecay": 0.5, "schedule": CONST}
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = Optimizer(spec, {"w": w}, 10)
    g = torch.tensor([0.3, -0.1])
    w.grad = g.clone()
    opt.step()
    m, v = 0.1 * g, 0.01 * g * g
    denom = v.sqrt() / math.sqrt(1 - 0.99) + 1e-8
    expected = torch.tensor([1.0, -2.0]) * (1 - 0.1 * 0.5) - (m / denom) * (0.1 / (1 - 0.9))
    assert torch.allclose(w.detach(), expected, atol=1e-7)
    t, slots = opt.export_state()
    assert t == 1 and sorted(slots) == ["m/w", "v/w"]
    assert torch.allclose(slots["m/w"], m)


def test_state_names_and_missing_slots() -> None:
    w = torch.nn.Parameter(torch.zeros(2))
    sgd = Optimizer({"kind": "sgd", "lr": 0.1, "momentum": 0.5, "nesterov": False, "weightDecay": 0, "schedule": CONST}, {"layers.0.weight": w}, 5)
    t, slots = sgd.export_state()
    assert t == 0 and list(slots) == ["momentum/layers.0.weight"] and torch.equal(slots["momentum/layers.0.weight"], torch.zeros(2))
    with pytest.raises(ValueError, match='checkpoint has no optimizer state "momentum/layers.0.weight"'):
        sgd.import_state(3, {})
    plain = Optimizer({"kind": "sgd", "lr": 0.1, "momentum": 0, "nesterov": True, "weightDecay": 0, "schedule": CONST}, {"w": w}, 5)
    assert plain.export_state() == (0, {})
