"""The integration point of the influence analyses (TracIn and the BIF), whose methods live in
tracin.py and bif.py of this package (per-example gradients in pergrad.py). This module only
calls them with what the watcher holds, so the watcher and `analyze` do not depend on their
internals:

    tracin.compute_tracin(model, loss_fn, train, query, settings, lr, *, step, seed, projection=...)
    tracin.make_projection(model, settings, seed)          (built once per run, reused)
    bif.compute_bif(model, loss_fn, train, query, settings, *, step, rows, ...)

`train` and `query` are `(x, y)` pairs on the model's device: for TracIn the scored training
examples (in the order of the header's `examples`), for the BIF the whole training set (the SGLD
loss uses every example) with `rows` the scored positions; `seed` is the run's seed (TracIn's
projection; the BIF seeds its chains with the step, as the TypeScript analyzer does). Each returns
the record of one checkpoint as docs/analysis-format.md describes it. Keyword arguments a function does not take are
not passed (so either side can grow). When a module is missing (a partial install), the analysis
says so instead of failing obscurely.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch
import torch.nn as nn

from .examples import Examples

FUNCTIONS = {"tracin": ("tracin", "compute_tracin"), "bif": ("bif", "compute_bif")}


class InfluenceUnavailable(RuntimeError):
    """The module computing an influence analysis is not part of this installation."""


def function_of(name: str) -> Callable[..., Dict[str, Any]]:
    module_name, fn_name = FUNCTIONS[name]
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith(f".{module_name}"):
            raise InfluenceUnavailable(f"{name}: learning_mechanics.analyses.{module_name} is not installed; switch it off with analyses={{'{name}': {{'every': 0}}}}") from None
        raise
    fn = getattr(module, fn_name, None)
    if fn is None:
        raise InfluenceUnavailable(f"{name}: learning_mechanics.analyses.{module_name} has no {fn_name}")
    return fn


def available(name: str) -> bool:
    try:
        function_of(name)
        return True
    except InfluenceUnavailable:
        return False


_projections: Dict[int, Any] = {}


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return fn(*args, **{k: v for k, v in kwargs.items() if takes_all or k in params})


def compute(
    name: str,
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    train: Examples,
    query: Examples,
    settings: Mapping[str, Any],
    lr: float,
    step: int,
    seed: int = 0,
    cache: Optional[Dict[str, Any]] = None,
    rows: Optional[List[int]] = None,
) -> Dict[str, Any]:
    """The record of analysis `name` ("tracin" or "bif") at `step`, the model holding that checkpoint."""
    fn = function_of(name)
    pair_train, pair_query = (train.x, train.y), (query.x, query.y)
    extra: Dict[str, Any] = {"step": step, "seed": seed}
    if name == "bif":
        # The whole training set and the scored rows; the chains' seed is the step (bifAnalysis.ts).
        assert rows is not None
        return _call(fn, model, loss_fn, pair_train, pair_query, settings, step=step, rows=list(rows), lr=lr)
    if name == "tracin":
        module = importlib.import_module(f"{__package__}.tracin")
        make = getattr(module, "make_projection", None)
        if make is not None and cache is not None:
            if "projection" not in cache:
                cache["projection"] = make(model, settings, seed)
            extra["projection"] = cache["projection"]
        return _call(fn, model, loss_fn, pair_train, pair_query, settings, lr, **extra)
