"""`run.watch(model, loss_fn, train=..., probe=..., query=..., analyses={...})`: the analyses that
need the model, computed for a PyTorch model at checkpoint time, and the same code afterwards from
the run's checkpoints (`python -m learning_mechanics analyze RUN --model module:factory`, cli.py).

Both go through `Watcher.catch_up`: list the run's checkpoints, take every `every`-th of them
counting from the first (plus the last once the run has ended), and compute each analysis for the
steps its file does not hold yet. A step other than the model's current one is loaded from its
checkpoint into the model for the time of the analysis, then the model's own values are put back
(in place: an optimizer's references stay valid). So a watch started after step 0 was written,
a run resumed, or a crashed analysis all end with the same files.

The files follow docs/analysis-format.md (writer.py). While training, a failing analysis does not
stop the training: it is reported once on stderr, with the step and the reason, and switched off
for the rest of the run (`analyze` afterwards runs it again).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from .. import tensorfile
from . import influence
from .conservation import Detection, conservation_record, conserved_quantities, detect_symmetries
from .llc import compute_llc
from .optim_state import AdamMoments, NoOptimizer, Optimization, moments_from_checkpoint, moments_from_optimizer, optimization, read_metadata
from .sharpness import compute_sharpness
from .cka import cka_against, representations
from .examples import ExampleSource, Examples, classes_of, example_infos, query_rows, target_matrix
from .fourier import embedding_matrix, fourier_record
from .kernel import empirical_ntk, kernel_distance, kernel_target_alignment, output_directions
from .readout import Readout, find_readout, named_readout
from .settings import MODEL_ANALYSES, Settings, SettingsError, header_settings, resolve
from .writer import MODEL_LOCK_NAME, AnalysisWriteError, AnalysisWriter, AnalyzerLock, due_steps

CHECKPOINT = re.compile(r"^step-(\d{8,})\.safetensors$")


def checkpoint_steps(run_dir: str) -> List[int]:
    """The steps of the run's checkpoints, ascending (temporary files and other names ignored)."""
    folder = os.path.join(run_dir, "checkpoints")
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in (CHECKPOINT.match(n) for n in names) if m)


def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, "checkpoints", f"step-{step:08d}.safetensors")


def load_checkpoint(model: nn.Module, run_dir: str, step: int) -> None:
    """Copies the checkpoint's parameters (and buffers it holds) into the model, in place."""
    path = checkpoint_path(run_dir, step)
    tensors, _ = tensorfile.read(path)
    state = model.state_dict(keep_vars=True)
    missing = [k for k, v in model.named_parameters() if k not in tensors]
    if missing:
        have = [k for k in tensors if not k.startswith("optimizer/")][:8]
        raise SettingsError(
            f"{path} has no tensor {missing[0]!r} (nor {len(missing) - 1} more of the model's parameters); it holds {', '.join(have)}: the model given does not match the run's checkpoints"
        )
    with torch.no_grad():
        for name, target in state.items():
            t = tensors.get(name)
            if t is None:
                continue
            if tuple(t.shape) != tuple(target.shape):
                raise SettingsError(f"{path}: {name!r} has shape {list(t.shape)}, the model's has {list(target.shape)}")
            target.copy_(t.to(device=target.device, dtype=target.dtype))


def snapshot(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def restore(model: nn.Module, saved: Mapping[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for k, v in model.state_dict(keep_vars=True).items():
            if k in saved:
                v.copy_(saved[k])


def logged_lr(run_dir: str) -> Dict[int, float]:
    """The learning rate logged by step (the `lr` key of metrics.jsonl), as the TypeScript analyzer reads it."""
    out: Dict[int, float] = {}
    try:
        with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if isinstance(r, dict) and isinstance(r.get("step"), int) and isinstance(r.get("lr"), (int, float)):
                    out[r["step"]] = float(r["lr"])
    except OSError:
        pass
    return out


def run_seed(run_dir: str) -> int:
    """run.json's `seed` (the influence analyses' projection seed), 0 when absent."""
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
            seed = json.load(f).get("seed", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else 0


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    raise SettingsError("the model has no parameters to analyse")


class Watcher:
    """The analyses of one model on one run folder (see the module's docstring)."""

    def __init__(
        self,
        run_dir: str,
        model: nn.Module,
        loss_fn: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
        train: Any,
        probe: Any = None,
        query: Any = None,
        analyses: Optional[Mapping[str, Any]] = None,
        *,
        only: Optional[List[str]] = None,
        log: Callable[[str], None] = lambda m: print(f"learning_mechanics: {m}", file=sys.stderr),
    ) -> None:
        if not isinstance(model, nn.Module):
            raise SettingsError(f"run.watch: model must be an nn.Module, got {type(model).__name__}")
        self.run_dir = run_dir
        self.model = model
        self.loss_fn = loss_fn
        self.settings: Settings = resolve(analyses)
        self.log = log
        self.device = model_device(model)
        self.train = ExampleSource("train", train)
        self.query = ExampleSource("query", query) if query is not None else None
        self.probe_source = ExampleSource("probe", probe) if probe is not None else self.train
        self.enabled: Dict[str, bool] = {
            name: self.settings[name]["every"] > 0 and (only is None or name in only) for name in MODEL_ANALYSES
        }
        # The influence analyses are on by default (TracIn) but need a loss and a query set: without
        # them they are skipped with a message, unless asked for by name (then it is a mistake).
        asked = analyses if isinstance(analyses, Mapping) else {}
        for name in ("tracin", "bif", "sharpness", "llc"):
            if not self.enabled[name]:
                continue
            needs_query = name in ("tracin", "bif") and query is None and self.settings[name]["query"]["kind"] != "indices"
            missing = "loss_fn" if loss_fn is None else "query" if needs_query else None
            if missing is None:
                continue
            if name in asked:
                raise SettingsError(f"analyses.{name}: needs {missing}= in run.watch (the loss, e.g. F.cross_entropy; the query set, e.g. the test split), or switch it off with {{'every': 0}}")
            self.log(f"{name} skipped: run.watch was given no {missing}=")
            self.enabled[name] = False
        self.writers: Dict[str, AnalysisWriter] = {}
        #: Wall and CPU time spent in the analyses so far (bench/watch_overhead.py reads them).
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.seed = run_seed(run_dir)
        self._influence_cache: Dict[str, Dict[str, Any]] = {}
        self._reference: Optional[Tuple[int, torch.Tensor, Dict[str, torch.Tensor]]] = None
        #: Conservation: the symmetries found (once) and Q(0) at the reference step.
        self._symmetries: Optional[Detection] = None
        self._q0: Optional[Tuple[int, List[torch.Tensor]]] = None
        #: The live optimizer at the checkpoint being written (RunWatch): Adam's moments without re-reading the file.
        self._live_optimizer: Optional[torch.optim.Optimizer] = None
        self._manifest: Dict[str, Any] = {}
        self._prepare()

    # ---------------------------------------------------------------- what is fixed for the run

    def _prepare(self) -> None:
        """Everything that can be checked before training goes on: the probe set, the readout, the
        embedding, the query; a mistake is a SettingsError now, not a warning at step 5,000."""
        k = self.settings["kernel"]
        self.probe = self.probe_source.take(int(k["probeSize"])).to(self.device)
        if len(self.probe) < 2:
            raise SettingsError(f"{self.probe_source.what}: the kernel needs at least 2 probe examples, got {len(self.probe)}")
        self.readout: Readout = (
            named_readout(self.model, k["readout"]) if "readout" in k else find_readout(self.model, self.probe.x[:2])
        )
        with torch.no_grad():
            was = self.model.training
            self.model.eval()
            width = int(self.model(self.probe.x[:1]).reshape(1, -1).shape[1])
            self.model.train(was)
        self.directions, self.outputs = output_directions(width, 0, self.device)
        self.targets = target_matrix(self.probe.y, width)
        if self.enabled["fourier"]:
            f = self.settings["fourier"]
            embedding_matrix(self.model, f["embedding"], int(f["p"]), f.get("layout", "auto"))
            self.train_x = self.train.take(0).x
        #: Per influence analysis: the training examples passed, the query, its words, the scored examples.
        self.influence: Dict[str, Tuple[Examples, Examples, str, Examples]] = {}
        for name in ("tracin", "bif"):
            if not self.enabled[name]:
                continue
            if not influence.available(name):
                self.log(f"{name} skipped: this installation has no learning_mechanics.analyses.{name}")
                self.enabled[name] = False
                continue
            s = self.settings[name]
            split, rows, words = query_rows(s["query"], self.train, self.query, f"analyses.{name}.query")
            q = (self.train if split == "train" else self.query).rows(rows)  # type: ignore[union-attr]
            scored = self.train.take(int(s["trainExamples"]))
            # TracIn scores the examples it is given; the BIF samples on the whole training set.
            given = self.train.take(0) if name == "bif" else scored
            self.influence[name] = (given.to(self.device), q.to(self.device), words, scored)

    # ---------------------------------------------------------------- files

    def _header(self, name: str, reference: int) -> Dict[str, Any]:
        if name == "kernel":
            return {
                "settings": header_settings("kernel", self.settings, {"outputs": self.outputs}),
                "referenceStep": reference,
                "readout": {"module": self.readout.module, "parameter": self.readout.parameter, "how": self.readout.how},
            }
        if name in ("fourier", "sharpness", "llc"):
            return {"settings": header_settings(name, self.settings)}
        if name == "conservation":
            return {"settings": header_settings(name, self.settings), "referenceStep": reference}
        _, _, words, scored = self.influence[name]
        return {"settings": header_settings(name, self.settings), "examples": example_infos(scored), "query": words}

    def _writer(self, name: str, reference: int) -> AnalysisWriter:
        w = self.writers.get(name)
        if w is None:
            w = AnalysisWriter(self.run_dir, name, self._header(name, reference))
            if w.opened[0] == "archived":
                self.log(f"{name}: {w.opened[1]}")
            self.writers[name] = w
        return w

    # ---------------------------------------------------------------- the loop

    def catch_up(self, ended: bool, live_step: Optional[int] = None, live_lr: Optional[float] = None, strict: bool = False) -> Dict[str, List[int]]:
        """Computes every due step not yet in the files; returns the steps written per analysis.
        `live_step`: the checkpoint the model holds now (not loaded from its file). `strict`: raise
        an analysis's error (analyze) instead of reporting it and switching the analysis off (training)."""
        steps = checkpoint_steps(self.run_dir)
        if not steps or not any(self.enabled.values()):
            return {}
        try:
            lock = AnalyzerLock(self.run_dir, MODEL_LOCK_NAME)
        except AnalysisWriteError as e:
            if strict:
                raise
            self.log(f"analyses postponed: {e}")
            return {}
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self._catch_up(steps, ended, live_step, live_lr, strict)
        finally:
            lock.release()
            self.seconds += time.perf_counter() - wall
            self.cpu_seconds += time.process_time() - cpu

    def _catch_up(self, steps: List[int], ended: bool, live_step: Optional[int], live_lr: Optional[float], strict: bool) -> Dict[str, List[int]]:
        reference = steps[0]
        todo: Dict[int, List[str]] = {}
        for name in MODEL_ANALYSES:
            if not self.enabled[name]:
                continue
            w = self._writer(name, reference)
            for s in due_steps(steps, int(self.settings[name]["every"]), ended):
                if not w.has(s):
                    todo.setdefault(s, []).append(name)
        if not todo:
            return {}
        saved = snapshot(self.model)
        lrs = logged_lr(self.run_dir) if any(n in ("tracin", "bif", "sharpness") for names in todo.values() for n in names) else {}
        self._manifest = _read_json(os.path.join(self.run_dir, "run.json"))
        self._live_step = live_step
        written: Dict[str, List[int]] = {}
        try:
            if self.enabled["kernel"] and "kernel" in {n for names in todo.values() for n in names} and (self._reference is None or self._reference[0] != reference):
                self._at(reference, live_step, saved)
                try:
                    self._reference = (reference, self._kernel(), representations(self.model, self.probe.x))
                except Exception as e:  # noqa: BLE001 - as any analysis's failure (below)
                    if strict:
                        raise
                    self._switch_off("kernel", reference, e)
            for step in sorted(todo):
                self._at(step, live_step, saved)
                for name in todo[step]:
                    if not self.enabled[name]:
                        continue
                    lr = self._lr(step, live_step, live_lr, lrs)
                    try:
                        if name == "conservation" and (self._q0 is None or self._q0[0] != reference):
                            self._at(reference, live_step, saved)
                            self._q0 = (reference, self._quantities())
                            self._at(step, live_step, saved)
                        record = self._compute(name, step, lr, reference)
                    except SettingsError:
                        raise
                    except Exception as e:  # noqa: BLE001 - an analysis must not kill a training run
                        if strict:
                            raise
                        self._switch_off(name, step, e)
                        continue
                    self.writers[name].append(record)
                    written.setdefault(name, []).append(step)
        finally:
            restore(self.model, saved)
        return written

    def current_lr(self) -> Optional[float]:
        """The optimizer's learning rate now, when the watcher knows the optimizer (RunWatch)."""
        return None

    def _lr(self, step: int, live_step: Optional[int], live_lr: Optional[float], logged: Mapping[int, float]) -> float:
        """η at a checkpoint: the optimizer's at the live step, else the logged `lr` of that step,
        else the optimizer's current one (exact for a constant rate), else NaN."""
        if step == live_step and live_lr is not None:
            return live_lr
        if step in logged:
            return logged[step]
        now = self.current_lr()
        return now if now is not None else math.nan

    def _switch_off(self, name: str, step: int, e: BaseException) -> None:
        self.enabled[name] = False
        where = traceback.extract_tb(e.__traceback__)[-1]
        self.log(f"{name} failed at step {step} and is off for the rest of this run: {type(e).__name__}: {e} ({os.path.basename(where.filename)}:{where.lineno})")

    def _at(self, step: int, live_step: Optional[int], saved: Mapping[str, torch.Tensor]) -> None:
        """Makes the model hold checkpoint `step`: its own values for the live step, else the file's."""
        if step == live_step:
            restore(self.model, saved)
        else:
            load_checkpoint(self.model, self.run_dir, step)

    # ---------------------------------------------------------------- one record

    def _kernel(self) -> torch.Tensor:
        was = self.model.training
        self.model.eval()
        try:
            return empirical_ntk(self.model, self.probe.x, self.directions)
        finally:
            self.model.train(was)

    def _full_train(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The whole training set on the model's device (sharpness and LLC use every example), read once."""
        if not hasattr(self, "_train_all"):
            ex = self.train.take(0).to(self.device)
            self._train_all = (ex.x, ex.y)
        return self._train_all

    def _optimization(self, step: int) -> Optimization:
        total = self._manifest.get("totalSteps")
        return optimization(self._manifest.get("config"), int(total) if isinstance(total, int) else 0, read_metadata(checkpoint_path(self.run_dir, step)))

    def _moments(self, step: int, opt: Optimization) -> Optional[AdamMoments]:
        """Adam's second moments at `step`: the live optimizer's state, else the checkpoint's `optimizer/v/*`."""
        if isinstance(opt, NoOptimizer) or opt.kind == "sgd":
            return None
        if step == getattr(self, "_live_step", None) and self._live_optimizer is not None:
            live = moments_from_optimizer(self._live_optimizer, {id(p): n for n, p in self.model.named_parameters()})
            if live is not None:
                return live
        tensors, metadata = tensorfile.read(checkpoint_path(self.run_dir, step))
        return moments_from_checkpoint(tensors, metadata)

    def _quantities(self) -> List[torch.Tensor]:
        """Q of every symmetry at the model's current weights (the symmetries found on first use)."""
        if self._symmetries is None:
            x, y = self._full_train()
            with torch.no_grad():
                self._symmetries = detect_symmetries(self.model, self.loss_fn, x[:32], y[:32])
        params = dict(self.model.named_parameters())
        return [conserved_quantities(s.law, params) for s in self._symmetries.symmetries]

    def _compute(self, name: str, step: int, lr: float, reference: int = 0) -> Dict[str, Any]:
        if name == "kernel":
            assert self._reference is not None
            _, k0, reps0 = self._reference
            kt = self._kernel()
            return {
                "step": step,
                "probe": len(self.probe),
                "kernelDistance": kernel_distance(kt, k0),
                "kta": kernel_target_alignment(kt, self.targets),
                "cka": cka_against(reps0, representations(self.model, self.probe.x)),
            }
        if name == "fourier":
            return fourier_record(self.model, self.settings["fourier"], self.train_x, step)
        if name == "conservation":
            assert self._q0 is not None and self._symmetries is not None
            q0 = self._q0[1]
            d = self._symmetries
            return conservation_record(step, reference, d.symmetries, q0, dict(self.model.named_parameters()), self._optimization(step), d.notes)
        if name == "sharpness":
            assert self.loss_fn is not None
            opt = self._optimization(step)
            if not math.isfinite(lr) and not isinstance(opt, NoOptimizer):
                lr = float(opt.lr_at(step + 1))  # the schedule's (or the metadata's) η of the next update
            return compute_sharpness(self.model, self.loss_fn, self._full_train(), self.settings["sharpness"], step=step, lr=lr, optimizer=opt, moments=self._moments(step, opt))
        if name == "llc":
            assert self.loss_fn is not None
            return compute_llc(self.model, self.loss_fn, self._full_train(), self.settings["llc"], step=step)
        train, query, _, scored = self.influence[name]
        assert self.loss_fn is not None
        record = influence.compute(name, self.model, self.loss_fn, train, query, self.settings[name], lr, step, self.seed, self._influence_cache.setdefault(name, {}), rows=list(range(len(scored))))
        return {**record, "step": step}


class RunWatch(Watcher):
    """The watcher `Run.watch` returns: analyses at each `run.checkpoint`, the last checkpoint at
    `run.finish`. Catches up at once on the checkpoints already written (step 0 from `init`)."""

    def __init__(self, run_dir: str, model: nn.Module, loss_fn: Any, *, train: Any, probe: Any = None, query: Any = None, analyses: Optional[Mapping[str, Any]] = None, optimizer: Callable[[], Optional[torch.optim.Optimizer]] = lambda: None) -> None:
        self._optimizer_of = optimizer
        if train is None:
            raise SettingsError("run.watch: train= is required: the training examples as (x, y) tensors, a Dataset or a DataLoader (the probe set is its first examples)")
        super().__init__(run_dir, model, loss_fn, train, probe, query, analyses)
        self.catch_up(ended=False)

    def current_lr(self) -> Optional[float]:
        return _lr_of(self._optimizer_of())

    def after_checkpoint(self, step: int, optimizer: Optional[torch.optim.Optimizer]) -> None:
        self._live_optimizer = optimizer
        self.catch_up(ended=False, live_step=step, live_lr=_lr_of(optimizer) if optimizer is not None else self.current_lr())

    def after_finish(self) -> None:
        """The last checkpoint, if the cadence skipped it (loaded from its file: the model may have moved since)."""
        try:
            self.catch_up(ended=True)
        except Exception as e:  # noqa: BLE001 - the run's end must be recorded whatever happens here
            self.log(f"analyses at the end of the run failed: {type(e).__name__}: {e}")


def _read_json(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _lr_of(optimizer: Optional[torch.optim.Optimizer]) -> Optional[float]:
    """The first parameter group's learning rate (what TracIn's η is), or None."""
    if optimizer is None or not optimizer.param_groups:
        return None
    value = optimizer.param_groups[0].get("lr")
    return float(value) if isinstance(value, (int, float, torch.Tensor)) else None
