"""Converts a PyTorch state dict file (`.pt`, `.pth`) into a checkpoint of a run folder.

A `.pt` file is a pickle, and unpickling runs whatever the file says. So it is read only with
`torch.load(..., weights_only=True)`, which rebuilds tensors and plain containers and refuses
everything else; on a torch too old to have it, the import is refused rather than unpickled.
"""

from __future__ import annotations

import inspect
import os
import pickle
from typing import Dict, Mapping

import torch

from .logger import LoggerError, Run, init


class ImportRefused(ValueError):
    """A file or request the import cannot take; the message says why (no traceback is shown)."""


WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")


def _has_weights_only() -> bool:
    try:
        return "weights_only" in inspect.signature(torch.load).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        return False


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a state dict file, unwrapping `{"state_dict": ...}`, `{"model": ...}` and
    `{"model_state_dict": ...}`. Refuses files that hold anything other than tensors."""
    if not _has_weights_only():
        raise ImportRefused(f"torch {torch.__version__} cannot load {path} safely (torch.load has no weights_only); upgrade torch to 1.13 or later")
    if not os.path.isfile(path):
        raise ImportRefused(f"{path} is not a file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as e:
        text = " ".join(str(e).split())
        # torch's message suggests retrying with weights_only=False; the reason is the useful part.
        reason = text[text.index("WeightsUnpickler error:") :] if "WeightsUnpickler error:" in text else text or type(e).__name__
        reason = reason.split(". ")[0]
        raise ImportRefused(
            f"{path} holds something other than tensors, or is not a PyTorch file; it was refused and nothing in it ran "
            f"(torch.load with weights_only=True: {reason})"
        ) from None
    return _tensors_of(path, obj)


def _tensors_of(path: str, obj: object) -> Dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ImportRefused(f"{path} holds {type(obj).__name__}, not a state dict (a dict of tensors by parameter name)")
    bad = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise ImportRefused(f"{path}: not a state dict: {len(bad)} entries are not tensors ({shown})")
    return {str(k): v for k, v in obj.items()}


def import_state_dict(path: str, run_dir: str, step: int = 0) -> str:
    """Writes the state dict in `path` as the checkpoint of `step` in `run_dir` (a new run when
    the folder holds none; there the file stands as the run's "experiment"). Returns the checkpoint path."""
    if step < 0:
        raise ImportRefused(f"--step must be ≥ 0, not {step}")
    tensors = load_state_dict(path)
    name = os.path.splitext(os.path.basename(path))[0] or "imported"
    try:
        if os.path.exists(os.path.join(run_dir, "run.json")):
            run = Run.reopen(run_dir)
        else:
            run = init(name=name, config={"imported_from": os.path.abspath(path)}, run_dir=run_dir)
            run._manifest["experiment"] = {"path": os.path.abspath(path), "sha256": _sha(path)}
            run._manifest["producer"] = "learning-mechanics import"
            run._manifest["backend"] = {"name": "pytorch", "reason": "imported from a PyTorch state dict file", "package": "torch", "versions": {"torch": str(torch.__version__)}}
        written = run.checkpoint(tensors, step=step)
        run.finish("finished")
    except LoggerError as e:
        raise ImportRefused(str(e)) from None
    return written


def _sha(path: str) -> str:
    from .runfiles import file_sha256

    return file_sha256(path)
