"""`python -m learning_mechanics analyze RUN --model module:factory`: the analyses that need the
model, from a run's checkpoints, after (or while) it trains; the same code as `run.watch`.

`factory` is a function in an importable module (`mypkg.models:make`) or in a file
(`train.py:make`). It is called with the run's run.json as a dict if it takes an argument (so it
can build the model from the run's config), else with none, and returns either the keywords of
`run.watch` as a dict — `{"model": ..., "loss_fn": ..., "train": (x, y), "probe": ...,
"query": ..., "analyses": {...}}` — or the model alone (then only the analyses needing no data:
none, so that is refused with a message).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import sys
from typing import Any, Dict, List, Optional

import torch.nn as nn

from .settings import MODEL_ANALYSES, SettingsError
from .watch import Watcher, checkpoint_steps
from .writer import AnalysisWriteError, AnalyzerLock


class AnalyzeError(ValueError):
    """A mistake in the command line, the factory or the run folder: the message says which."""


def load_factory(spec: str) -> Any:
    if ":" not in spec:
        raise AnalyzeError(f"--model {spec}: expected module:function or file.py:function")
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py") or os.sep in where:
        path = os.path.abspath(where)
        if not os.path.isfile(path):
            raise AnalyzeError(f"--model {spec}: no file {path}")
        sys.path.insert(0, os.path.dirname(path))
        loader = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise AnalyzeError(f"--model {spec}: cannot import {where} ({e})") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise AnalyzeError(f"--model {spec}: {where} has no function {name}")
    return fn


def read_manifest(run_dir: str) -> Dict[str, Any]:
    path = os.path.join(run_dir, "run.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise AnalyzeError(f"{run_dir} is not a run folder (no run.json)") from None
    except (OSError, ValueError) as e:
        raise AnalyzeError(f"{path} cannot be read: {e}") from None
    if not isinstance(manifest, dict):
        raise AnalyzeError(f"{path} is not a JSON object")
    return manifest


def analyze(run_dir: str, model_spec: str, only: Optional[List[str]] = None, log: Any = print) -> Dict[str, List[int]]:
    manifest = read_manifest(run_dir)
    for sub in ("analyses", "checkpoints"):
        p = os.path.join(run_dir, sub)
        if os.path.islink(p) or (os.path.exists(p) and not os.path.realpath(p).startswith(os.path.realpath(run_dir) + os.sep)):
            raise AnalyzeError(f"{p} is a symbolic link or lies outside the run folder: refused")
    if not checkpoint_steps(run_dir):
        raise AnalyzeError(f"{run_dir} has no checkpoints to analyse")
    # The TypeScript analyzer's lock as well (taken before the factory's code runs): `lm analyze
    # --file` could be writing kernel.jsonl of a built-in system's run.
    lock = AnalyzerLock(run_dir)
    try:
        watcher, written = _analyze_locked(run_dir, manifest, model_spec, only, log)
    finally:
        lock.release()
    for name in MODEL_ANALYSES:
        w = watcher.writers.get(name)
        if w is None:
            continue
        steps = written.get(name, [])
        log(f"{name}: {len(steps)} checkpoint{'s' if len(steps) != 1 else ''} analysed{' (' + ', '.join(map(str, steps)) + ')' if steps else ''} → {w.path}")
    return written


def _analyze_locked(run_dir: str, manifest: Dict[str, Any], model_spec: str, only: Optional[List[str]], log: Any) -> Any:
    """The factory called, the watcher built, the due steps computed (under the lock)."""
    factory = load_factory(model_spec)
    made = factory(manifest) if len(inspect.signature(factory).parameters) >= 1 else factory()
    if isinstance(made, nn.Module):
        raise AnalyzeError(f"--model {model_spec} returns only the model; the analyses need data too: return dict(model=..., loss_fn=..., train=(x, y), query=(x, y))")
    if not isinstance(made, dict) or not isinstance(made.get("model"), nn.Module):
        raise AnalyzeError(f"--model {model_spec} must return a dict with model=nn.Module (and loss_fn, train, probe, query, analyses), got {type(made).__name__}")
    unknown = set(made) - {"model", "loss_fn", "train", "probe", "query", "analyses"}
    if unknown:
        raise AnalyzeError(f"--model {model_spec} returns unknown keys {', '.join(sorted(unknown))}; the keys are model, loss_fn, train, probe, query, analyses")
    if made.get("train") is None:
        raise AnalyzeError(f"--model {model_spec} returns no train=(x, y): the probe set and the scored examples come from it")
    watcher = Watcher(run_dir, made["model"], made.get("loss_fn"), made["train"], made.get("probe"), made.get("query"), made.get("analyses"), only=only, log=lambda m: log(m))
    ended = manifest.get("status") != "running"
    return watcher, watcher.catch_up(ended=ended, strict=True)


def add_parser(commands: Any) -> None:
    p = commands.add_parser("analyze", help="compute the model analyses of a run from its checkpoints with your PyTorch model")
    p.add_argument("run", help="the run folder")
    p.add_argument("--model", required=True, help="module:function or file.py:function returning dict(model=..., loss_fn=..., train=(x, y), ...)")
    p.add_argument("--only", help=f"comma-separated analyses to compute ({', '.join(MODEL_ANALYSES)})")


def run(args: argparse.Namespace) -> int:
    only = None
    if args.only:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in only if s not in MODEL_ANALYSES]
        if bad:
            print(f"error: --only {bad[0]}: not an analysis of the model; choose from {', '.join(MODEL_ANALYSES)}", file=sys.stderr)
            return 2
    try:
        analyze(args.run, args.model, only)
    except (AnalyzeError, SettingsError, AnalysisWriteError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
