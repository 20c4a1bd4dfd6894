"""The hidden representations linear CKA compares, taken with forward hooks, as the TypeScript
tap takes them (src/trainer/methods/ntk.ts `layerRepresentations`): the *input* of every module
that owns a weight, on the probe set, labelled by the weight it feeds (`out.weight` = the last
hidden layer's activations, `2.weight` in an `nn.Sequential` = the activations entering layer 2).

- integer inputs (token ids entering an embedding) have no representation;
- a module whose input is the model's input (the first layer of an MLP on features) is left out:
  its CKA is 1 by construction;
- a module called several times in one forward pass (a weight shared across positions or steps)
  has its inputs laid side by side, per example, in call order;
- parameters used without a module call (`x @ self.W`) have no hook and so no CKA here.
"""

from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn as nn

from .kernel import linear_cka
from .readout import _direct_weight, _join


def representations(model: nn.Module, x: torch.Tensor, chunk: int = 1024) -> Dict[str, torch.Tensor]:
    """Per weight-owning module, its input on `x` as [n, features] (float32, on x's device)."""
    seen: Dict[str, List[torch.Tensor]] = {}
    hooks = []
    n = int(x.shape[0])

    for name, module in model.named_modules():
        w = _direct_weight(module)
        if w is None:
            continue
        key = _join(name, w)

        def pre(m: nn.Module, inputs: tuple, key: str = key) -> None:
            if not inputs or not isinstance(inputs[0], torch.Tensor):
                return
            t = inputs[0]
            if not torch.is_floating_point(t) or t.dim() == 0 or t.shape[0] != current[0]:
                return
            x0 = current[1]
            if t is x0 or (t.shape == x0.shape and torch.equal(t, x0.to(t.dtype))):
                return  # the model's own input: CKA 1 by construction
            seen.setdefault(key, []).append(t.detach().reshape(t.shape[0], -1).float())

        hooks.append(module.register_forward_pre_hook(pre))
    current: List = [0, None]
    out: Dict[str, List[torch.Tensor]] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for c0 in range(0, n, chunk):
                xc = x[c0 : c0 + chunk]
                current[0], current[1] = int(xc.shape[0]), xc
                seen.clear()
                model(xc)
                for key, calls in seen.items():
                    out.setdefault(key, []).append(torch.cat(calls, dim=1))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {k: torch.cat(parts, dim=0) for k, parts in out.items() if sum(p.shape[0] for p in parts) == n}


def cka_against(reference: Dict[str, torch.Tensor], now: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Linear CKA of each layer's representation now against the reference's (layers in both, same width)."""
    out: Dict[str, float] = {}
    for key, rep in now.items():
        ref = reference.get(key)
        if ref is not None and ref.shape == rep.shape:
            out[key] = linear_cka(ref, rep)
    return out
