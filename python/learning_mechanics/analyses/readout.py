"""Which layer of a model is its readout, found from the model's structure rather than its names.

The readout (the last linear map, the one whose output is the model's output) moves by O(1) even
when the network is lazy, so the lazy-vs-rich reading leaves it out (docs/analyses.md, "Kernel").
The TypeScript side knows it of its own models (`out`, `unembed`); for a PyTorch model it is found
on one forward pass over a probe batch:

1. forward hooks record every module's output; the modules whose output *is* the model's output
   (the same tensor object) are the path to it (`nn.Sequential` → its last child → ...); the
   innermost of them that owns parameters is the readout (an `nn.Linear` head, a `lm_head`);
2. when no module's output is the model's output (the last step is a bare `x @ W`, a scaling, a
   softmax applied in `forward`), the autograd graph of the output is walked back breadth-first
   and the nearest parameter with two or more dimensions is the readout's weight.

A user can name it instead (`analyses={"kernel": {"readout": "decoder"}}`): a module or a parameter name.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

import torch
import torch.nn as nn

from .settings import SettingsError


@dataclass(frozen=True)
class Readout:
    #: The module's name in `model.named_modules()` ("" when the weight belongs to the model itself).
    module: str
    #: The weight parameter's name in `model.named_parameters()`, e.g. "2.weight".
    parameter: str
    #: How it was found: "named", "output module" or "output graph".
    how: str


def _direct_weight(module: nn.Module) -> Optional[str]:
    """The name of the module's own weight: `weight` if it has one, else its first parameter of ≥ 2 dimensions."""
    own = dict(module.named_parameters(recurse=False))
    if "weight" in own:
        return "weight"
    for name, p in own.items():
        if p.dim() >= 2:
            return name
    return None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def named_readout(model: nn.Module, name: str) -> Readout:
    """The readout the user named: a module (its weight) or a parameter."""
    modules = dict(model.named_modules())
    if name in modules:
        w = _direct_weight(modules[name])
        if w is None:
            raise SettingsError(f"analyses.kernel.readout: module {name!r} has no weight parameter of its own")
        return Readout(name, _join(name, w), "named")
    params = dict(model.named_parameters())
    if name in params:
        return Readout(name.rsplit(".", 1)[0] if "." in name else "", name, "named")
    raise SettingsError(f"analyses.kernel.readout: the model has no module or parameter named {name!r}")


def find_readout(model: nn.Module, x: torch.Tensor) -> Readout:
    """The readout of `model` on inputs `x` (a small batch); see the module's docstring."""
    outputs: List[Tuple[str, Any]] = []
    hooks = []
    for name, module in model.named_modules():
        if name == "":
            continue
        hooks.append(module.register_forward_hook(lambda m, i, o, name=name: outputs.append((name, o))))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise SettingsError(f"the model returns {type(out).__name__}; the analyses need a model that returns a tensor of outputs")
    modules = dict(model.named_modules())
    # The modules whose output is the model's output, innermost (longest name) first.
    path = sorted({name for name, o in outputs if o is out}, key=lambda n: (-n.count("."), -len(n)))
    for name in path:
        w = _direct_weight(modules[name])
        if w is not None:
            return Readout(name, _join(name, w), "output module")
    found = _nearest_matrix(model, out)
    if found is None:
        raise SettingsError("no readout found: the model's output depends on no weight matrix; name it with analyses={'kernel': {'readout': '...'}}")
    return Readout(found.rsplit(".", 1)[0] if "." in found else "", found, "output graph")


def _nearest_matrix(model: nn.Module, out: torch.Tensor) -> Optional[str]:
    """The parameter of ≥ 2 dimensions nearest to `out` in its autograd graph (breadth-first)."""
    # By storage and shape, not id(): torch 1.13 hands back another Python object for the variable.
    names: Dict[Tuple[int, Tuple[int, ...]], str] = {(p.data_ptr(), tuple(p.shape)): n for n, p in model.named_parameters()}
    if out.grad_fn is None:
        return None
    seen: Set[int] = set()
    alive: List[Any] = []
    queue = deque([out.grad_fn])
    while queue:
        fn = queue.popleft()
        if fn is None or id(fn) in seen:
            continue
        # Kept alive: torch 1.13 makes a new Python object per access, whose id could be reused.
        alive.append(fn)
        seen.add(id(fn))
        variable = getattr(fn, "variable", None)
        key = (variable.data_ptr(), tuple(variable.shape)) if isinstance(variable, torch.Tensor) else None
        if key is not None and key in names and variable.dim() >= 2:
            return names[key]
        for nxt, _ in getattr(fn, "next_functions", ()):
            queue.append(nxt)
    return None
