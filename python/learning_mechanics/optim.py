"""Optimizers and learning-rate schedules of src/trainer/optimizers.ts, on torch.optim.

The TypeScript optimizers follow torch.optim's update rules, so here they are torch.optim's own
SGD (momentum, Nesterov, coupled weight decay), Adam (coupled) and AdamW (decoupled) with the
same hyperparameters; the learning rate of update t is set on the param group before each step.
Optimizer state maps to the checkpoint's names: `m/<param>` = exp_avg, `v/<param>` = exp_avg_sq,
`momentum/<param>` = momentum_buffer; `t` is the number of updates applied.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Tuple

import torch

Spec = Mapping[str, Any]


def scheduled_lr(base: float, schedule: Spec, t: int, total: int) -> float:
    """Learning rate of update `t` (1-based) of `total`: linear warmup from 0, then constant, or
    linear or cosine decay to minLrFraction·base at the last step (`scheduledLr` in TypeScript)."""
    warmup = int(schedule["warmupSteps"])
    if warmup > 0 and t <= warmup:
        return (base * t) / warmup
    decay = schedule["decay"]
    if decay == "constant":
        return base
    span = max(1, total - warmup)
    progress = min(1.0, max(0.0, (t - warmup) / span))
    floor = base * float(schedule["minLrFraction"])
    if decay == "linear":
        return floor + (base - floor) * (1 - progress)
    return floor + ((base - floor) * (1 + math.cos(math.pi * progress))) / 2


def slot_names(spec: Spec) -> List[str]:
    """The state slots per parameter, as named in checkpoints."""
    if spec["kind"] == "sgd":
        return ["momentum"] if float(spec["momentum"]) > 0 else []
    return ["m", "v"]


_TORCH_SLOT = {"m": "exp_avg", "v": "exp_avg_sq", "momentum": "momentum_buffer"}


class Optimizer:
    """torch.optim with the run's schedule and checkpoint-named state."""

    def __init__(self, spec: Spec, params: Mapping[str, torch.nn.Parameter], total_steps: int) -> None:
        self.spec = spec
        self.params = dict(params)
        self.total_steps = total_steps
        self.t = 0
        plist = list(self.params.values())
        kind = spec["kind"]
        lr = float(spec["lr"])
        wd = float(spec["weightDecay"])
        self.torch_optimizer: torch.optim.Optimizer
        if kind == "sgd":
            momentum = float(spec["momentum"])
            # torch rejects nesterov without momentum; TypeScript ignores the flag then (plain SGD).
            self.torch_optimizer = torch.optim.SGD(plist, lr=lr, momentum=momentum, nesterov=bool(spec["nesterov"]) and momentum > 0, weight_decay=wd)
        elif kind in ("adam", "adamw"):
            cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
            b1, b2 = spec["betas"]
            self.torch_optimizer = cls(plist, lr=lr, betas=(float(b1), float(b2)), eps=float(spec["eps"]), weight_decay=wd)
        else:
            raise ValueError(f"unknown optimizer kind {kind!r}")

    def next_lr(self) -> float:
        return scheduled_lr(float(self.spec["lr"]), self.spec["schedule"], self.t + 1, self.total_steps)

    def step(self) -> None:
        lr = self.next_lr()
        for group in self.torch_optimizer.param_groups:
            group["lr"] = lr
        self.torch_optimizer.step()
        self.t += 1

    def zero_grad(self) -> None:
        self.torch_optimizer.zero_grad(set_to_none=True)

    def mask_state(self, masks: Mapping[str, torch.Tensor]) -> None:
        """Zeroes every state slot of a masked parameter where its mask is 0 (a branch from a dense
        checkpoint carries moments for weights the ticket prunes; masks.ts `maskSlots`)."""
        with torch.no_grad():
            for name, m in masks.items():
                for value in self.torch_optimizer.state.get(self.params[name], {}).values():
                    if isinstance(value, torch.Tensor) and value.shape == m.shape:
                        value.mul_(m)

    def export_state(self) -> Tuple[int, Dict[str, torch.Tensor]]:
        """(t, {"<slot>/<param>": tensor}); a slot not yet created (no update so far) is zeros,
        as the TypeScript optimizer holds it."""
        out: Dict[str, torch.Tensor] = {}
        for slot in slot_names(self.spec):
            for name, p in self.params.items():
                value = self.torch_optimizer.state.get(p, {}).get(_TORCH_SLOT[slot])
                out[f"{slot}/{name}"] = value.detach() if isinstance(value, torch.Tensor) else torch.zeros_like(p)
        return self.t, out

    def import_state(self, t: int, slots: Mapping[str, torch.Tensor]) -> None:
        """Restores state saved by `export_state` (or by the TypeScript optimizer); every slot must
        be present with the parameter's shape."""
        names = slot_names(self.spec)
        for slot in names:
            for name, p in self.params.items():
                key = f"{slot}/{name}"
                if key not in slots:
                    raise ValueError(f'checkpoint has no optimizer state "{key}"')
                if tuple(slots[key].shape) != tuple(p.shape):
                    raise ValueError(f'optimizer state "{key}" has shape {list(slots[key].shape)}, expected {list(p.shape)}')
        self.t = t
        if t == 0 or not names:
            return  # torch creates its state at the first update; zeros then are what it starts from
        for name, p in self.params.items():
            state: Dict[str, Any] = {}
            for slot in names:
                state[_TORCH_SLOT[slot]] = slots[f"{slot}/{name}"].detach().to(p.device, p.dtype).clone()
            if self.spec["kind"] != "sgd":
                # A float tensor on the CPU in torch 1.13 and 2.x (not capturable, not fused).
                state["step"] = torch.tensor(float(t))
            self.torch_optimizer.state[p] = state
