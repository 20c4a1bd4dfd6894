"""A logger for your own PyTorch training: writes a Learning Mechanics run folder.

    import learning_mechanics as lm
    with lm.init(name="mlp", config={"lr": 1e-3}) as run:
        run.checkpoint(model, optimizer, step=0)
        for step in range(1, steps + 1):
            ...
            run.log({"train_loss": loss, "acc/test": acc}, step=step)
            if step % 100 == 0:
                run.checkpoint(model, optimizer, step=step)

The folder follows docs/run-format.md, so the extension, `lm analyze` and any other reader open it
like a run of our trainer. Decisions (also in docs/pytorch.md):

- Tensors are stored as your model holds them, under their `state_dict` names: an `nn.Linear`
  weight stays `[out, in]` (our own models write `[in, out]`). Each checkpoint says so in its
  metadata (`layout: "pytorch"`). The weight-space analysis uses norms and distances, which do not
  depend on the layout.
- Step 0 is the weights after 0 updates. Pass the model to `init` (or call `checkpoint(..., step=0)`
  first) and it is exactly that. Otherwise the first `checkpoint` call also writes step 0 from the
  weights it is given (metadata `initial: "first-checkpoint"`): movement is then measured from there.
- Nothing is installed behind your back: no atexit hook; a SIGTERM handler (the extension's Stop)
  only inside `with lm.init(...)`, only in the main thread, only when SIGTERM has its default action.
  The exception is a script the extension launched (▶ Run, extension.py): the process is the
  extension's, so from `init` to `finish` SIGTERM means Stop and the script's end finishes the run.
- One writer per run folder: the run holds `<run>/.lock` (runlock.py, as the TypeScript trainer).
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import sys
import threading
import time
import traceback
import types
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Type, Union

import torch

from . import extension, runfiles, runlock, tensorfile
from .runfiles import JsonValue

__all__ = ["Run", "init", "LoggerError"]

PRODUCER = "learning-mechanics-logger 0.1.0"
STATUSES = ("finished", "failed", "diverged", "stopped")
#: run.json is rewritten at most this often by `log` (each rewrite is an fsync); always at checkpoints.
MANIFEST_INTERVAL_S = 5.0
#: Metrics lines are written (whole, one write call for all pending lines) at most this long after
#: they were logged, and at every checkpoint and at the end: a write per line costs more than the
#: line itself (a system call, ~30 µs on a busy disk), and the panels refresh no faster.
FLUSH_INTERVAL_S = 0.5
FLUSH_BYTES = 1 << 16
#: torch optimizer state → the format's slot names (docs/run-format.md, "Names").
SLOT_NAMES = {"exp_avg": "m", "exp_avg_sq": "v", "momentum_buffer": "momentum"}

Scalar = Union[int, float, bool, torch.Tensor, object]
Weights = Union[torch.nn.Module, Mapping[str, torch.Tensor]]


class LoggerError(ValueError):
    """A mistake in how the logger was called (a wrong value, a used folder): the message says which."""


def init(
    name: str = "run",
    config: Optional[Mapping[str, object]] = None,
    root: Optional[str] = None,
    run_dir: Optional[str] = None,
    *,
    model: Optional[Weights] = None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    total_steps: int = 0,
    seed: Optional[int] = None,
) -> "Run":
    """Starts a run in `run_dir`, or in a new folder `<root>/<name>-<UTC time>-<4 hex>`. `root`
    defaults to `runs` (relative to the working directory), or to the workspace's run root when the
    extension launched the script (▶ Run); a `root` or `run_dir` you pass is used as given.

    With `model`, the step-0 checkpoint (the initial weights) is written now."""
    run = Run(name, config or {}, root, run_dir, total_steps=total_steps, seed=seed)
    if model is not None:
        try:
            run.checkpoint(model, optimizer, step=0)
        except BaseException as e:  # the run was created: it must not stay "running"
            run.finish("failed", error=_error_message(e))
            raise
    return run


class Run:
    """One run folder being written. Use `init` to make one."""

    def __init__(
        self,
        name: str,
        config: Mapping[str, object],
        root: Optional[str],
        run_dir: Optional[str],
        *,
        total_steps: int = 0,
        seed: Optional[int] = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise LoggerError("name must be a non-empty string")
        if not isinstance(config, Mapping):
            raise LoggerError(f"config must be a dict, not {type(config).__name__}")
        self._channel = extension.channel()
        if root is None:
            root = (self._channel.runs_root if self._channel is not None else None) or "runs"
        self.id = _run_id(name)
        self.dir = os.path.abspath(run_dir if run_dir is not None else os.path.join(root, self.id))
        if run_dir is not None:
            self.id = os.path.basename(self.dir) or self.id
        self._checkpoint_dir = os.path.join(self.dir, "checkpoints")
        _make_run_folder(self.dir, self._checkpoint_dir)
        self._lock = _take_lock(self.dir, "train")
        self._t0 = time.monotonic()
        self._step = 0
        self._logged = False
        self._ended = False
        self._initial: Optional[Dict[str, torch.Tensor]] = None
        self._model: Optional[Weights] = None
        self._optimizer: Optional[torch.optim.Optimizer] = None
        self._watcher: Optional[object] = None
        self._last_manifest = 0.0
        self._sigterm: Optional[object] = None
        started = runfiles.utc_now()
        self._manifest: Dict[str, JsonValue] = {
            "format": runfiles.RUN_FORMAT,
            "formatVersion": runfiles.RUN_FORMAT_VERSION,
            "id": self.id,
            "system": name,
            "config": runfiles.json_safe(dict(config)),
            "seed": int(seed) if seed is not None else int(torch.initial_seed()) % (2**53),
            "backend": _backend(),
            "status": "running",
            "pid": os.getpid(),
            "startedAt": started,
            "updatedAt": started,
            "totalSteps": int(total_steps),
            "step": 0,
            "producer": PRODUCER,
        }
        experiment = _experiment()
        if experiment is not None:
            self._manifest["experiment"] = experiment
        try:
            self._write_manifest()
        except BaseException:
            self._lock.release()
            raise
        # One append-mode descriptor for the whole run; lines are appended whole, in batches (flush).
        self._metrics = os.open(os.path.join(self.dir, "metrics.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: List[str] = []
        self._keys: Dict[str, str] = {}
        self._pending_bytes = 0
        self._last_flush = time.monotonic()
        self._start_reporting(from_step=0)

    @classmethod
    def reopen(cls, run_dir: str) -> "Run":
        """A run folder written before (by this logger or `import`), to add checkpoints to; its
        status becomes `running` until `finish`. One writer at a time: do not reopen a live run."""
        import json

        path = os.path.join(run_dir, "run.json")
        try:
            with open(path, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise LoggerError(f"{run_dir} is not a run folder that can be continued: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != runfiles.RUN_FORMAT:
            raise LoggerError(f"{path} is not a Learning Mechanics run.json")
        run = cls.__new__(cls)
        run.dir = os.path.abspath(run_dir)
        run.id = str(manifest.get("id", os.path.basename(run.dir)))
        run._checkpoint_dir = os.path.join(run.dir, "checkpoints")
        os.makedirs(run._checkpoint_dir, exist_ok=True)
        run._lock = _take_lock(run.dir, "resume")
        run._channel = extension.channel()
        run._t0 = time.monotonic()
        step = manifest.get("step", 0)
        run._step = step if isinstance(step, int) and step >= 0 else 0
        run._logged = False
        run._ended = False
        run._initial = None
        run._model = None
        run._optimizer = None
        run._watcher = None
        run._sigterm = None
        manifest.update(status="running", pid=os.getpid())
        manifest.pop("endedAt", None)
        run._manifest = manifest
        run._write_manifest()
        run._metrics = os.open(os.path.join(run.dir, "metrics.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        run._pending = []
        run._keys = {}
        run._pending_bytes = 0
        run._last_flush = time.monotonic()
        run._start_reporting(from_step=run._step)
        return run

    # --- metrics

    def log(self, values: Mapping[str, Scalar], step: Optional[int] = None) -> None:
        """Appends one metrics record: `values` are scalars by name (any names, `loss/train` kept as
        is); Python, numpy and one-element torch values are accepted, non-finite ones written null.
        Without `step`, the record is for the step after the last one logged (0 first)."""
        if self._ended:
            self._check_open("log")
        if type(values) is not dict and not isinstance(values, Mapping):
            raise LoggerError(f"run.log takes a dict of scalars, not {type(values).__name__}")
        if step is None:
            step = self._next_step()
        elif type(step) is not int or step < 0:  # the common case (a non-negative int) is checked first
            step = _step_value(step)
        now = time.monotonic()
        # The line is built by hand: json.dumps costs ~30 µs per call inside a training loop, more
        # than all the rest of `log`. Names are JSON-encoded once (cached); a finite float's repr
        # is its JSON text (what json itself writes), a non-finite one is null.
        parts = [f'{{"step":{step},"time":{round(now - self._t0, 6)!r}']
        latest = self._latest  # None unless the extension launched the script
        for key, value in values.items():
            encoded = self._keys.get(key)
            if encoded is None:
                encoded = self._encode_key(key)
            x = value if type(value) is float else _scalar(key, value)
            parts.append(f",{encoded}:{x!r}" if math.isfinite(x) else f",{encoded}:null")
            if latest is not None:
                latest[key] = x
        parts.append("}\n")
        line = "".join(parts)
        self._pending.append(line)
        self._pending_bytes += len(line)
        self._logged = True
        if step > self._step:
            self._advance(step)
        if now - self._last_flush >= FLUSH_INTERVAL_S or self._pending_bytes >= FLUSH_BYTES:
            self.flush()
            if latest is not None:
                self._report(now)
        if now - self._last_manifest >= MANIFEST_INTERVAL_S:
            self._write_manifest()

    def _encode_key(self, key: object) -> str:
        if not isinstance(key, str):
            raise LoggerError(f"run.log: metric names must be strings, got {key!r}")
        if key in ("step", "time"):
            raise LoggerError(f'run.log: "{key}" is written by the logger; pass the step as run.log(..., step=N)')
        encoded = runfiles.dumps(key)
        self._keys[key] = encoded
        return encoded

    def flush(self) -> None:
        """Appends the pending metrics lines to metrics.jsonl, in one write call (whole lines only)."""
        if self._pending:
            data = "".join(self._pending).encode("utf-8")
            self._pending.clear()
            self._pending_bytes = 0
            view = memoryview(data)
            while view:  # a regular file takes it in one call; a short write is continued, never lost
                view = view[os.write(self._metrics, view) :]
        self._last_flush = time.monotonic()

    # --- checkpoints

    def checkpoint(self, model: Weights, optimizer: Optional[torch.optim.Optimizer] = None, step: Optional[int] = None) -> str:
        """Writes `checkpoints/step-N.safetensors` with the model's state_dict (floating-point
        tensors, as float32, under their names), the optimizer's state by parameter name, and the
        per-parameter stats. Without `step`: the last step logged. Returns the file's path."""
        self._check_open("checkpoint")
        step = (self._step if self._logged or self._initial is not None else 0) if step is None else _step_value(step)
        params = _named_tensors(model)
        if not params:
            raise LoggerError("run.checkpoint: the model has no floating-point tensors to save")
        self._model, self._optimizer = model, optimizer
        slots, opt_meta = _optimizer_state(optimizer, model) if optimizer is not None else ([], None)
        if self._initial is None:
            self._initial = self._step0(params, slots, opt_meta, first_step=step)
        if step != 0 or not os.path.exists(self._checkpoint_path(0)):
            self._write_checkpoint(step, params, slots, opt_meta, initial=self._initial, note=None)
        self._advance(step)
        self.flush()
        self._write_manifest()
        path = self._checkpoint_path(step)
        if self._channel is not None:
            self._channel.send({"type": "checkpoint", "step": step, "path": path, "bytes": _size(path)})
            self._report(time.monotonic())
        if self._watcher is not None:
            self._watcher.after_checkpoint(step, optimizer)  # type: ignore[attr-defined]
        return path

    # --- analyses of the model

    def watch(self, model: torch.nn.Module, loss_fn: Optional[object] = None, *, train: object = None, probe: object = None, query: object = None, analyses: Optional[Mapping[str, object]] = None) -> object:
        """Computes the analyses that need the model (kernel, CKA, Fourier, TracIn, BIF, sharpness, conservation, LLC) at every
        due checkpoint, into `analyses/` (docs/pytorch.md, "Analyses of your model"). Settings are
        checked now: a mistake raises `SettingsError` naming the field."""
        self._check_open("watch")
        from .analyses.watch import RunWatch

        self._watcher = RunWatch(self.dir, model, loss_fn, train=train, probe=probe, query=query, analyses=analyses, optimizer=lambda: self._optimizer)
        return self._watcher

    def _step0(self, params: List[Tuple[str, torch.Tensor]], slots: List[Tuple[str, torch.Tensor]], opt_meta: Optional[Dict[str, JsonValue]], first_step: int) -> Dict[str, torch.Tensor]:
        """The step-0 weights movement is measured from: written now if the run has none yet."""
        path0 = self._checkpoint_path(0)
        if os.path.exists(path0):  # a run continued (import into an existing run): measure from its step 0
            return tensorfile.read(path0)[0]
        initial = {n: t.clone() for n, t in params}
        if first_step == 0:
            self._write_checkpoint(0, params, slots, opt_meta, initial=initial, note=None)
        else:  # the optimizer state after `first_step` updates does not belong to step 0: left out
            self._write_checkpoint(0, params, [], None, initial=initial, note="first-checkpoint")
        return initial

    def _write_checkpoint(
        self,
        step: int,
        params: List[Tuple[str, torch.Tensor]],
        slots: List[Tuple[str, torch.Tensor]],
        opt_meta: Optional[Dict[str, JsonValue]],
        initial: Mapping[str, torch.Tensor],
        note: Optional[str],
    ) -> None:
        stats = {n: runfiles.tensor_stats(t, initial.get(n)) for n, t in params}
        metadata = {
            "format": runfiles.CHECKPOINT_FORMAT,
            "format_version": "1",
            "step": str(step),
            "params": runfiles.dumps([n for n, _ in params]),
            "stats": runfiles.dumps(stats),
            "layout": "pytorch",
            "producer": PRODUCER,
        }
        if note is not None:
            metadata["initial"] = note
        if opt_meta is not None:
            metadata["optimizer"] = runfiles.dumps(opt_meta)
        chunks = runfiles.safetensors_chunks(params + slots, metadata)
        runfiles.write_atomic(self._checkpoint_path(step), chunks)

    def _checkpoint_path(self, step: int) -> str:
        return os.path.join(self._checkpoint_dir, runfiles.checkpoint_name(step))

    # --- the end

    def finish(self, status: str = "finished", error: Optional[str] = None, location: Optional[Dict[str, JsonValue]] = None) -> None:
        """Marks the run ended (`finished`, `failed`, `diverged` or `stopped`). A second call does nothing."""
        if status not in STATUSES:
            raise LoggerError(f"run.finish: status must be one of {', '.join(STATUSES)}, not {status!r}")
        if self._ended:
            return
        if self._watcher is not None and status in ("finished", "stopped"):
            # The last checkpoint, if the cadence skipped it; not after a failure or a divergence.
            self._watcher.after_finish()  # type: ignore[attr-defined]
        self._ended = True
        self.flush()
        os.close(self._metrics)
        now = runfiles.utc_now()
        self._manifest.update(status=status, step=self._step, updatedAt=now, endedAt=now)
        if status == "diverged":
            self._manifest["divergedAtStep"] = self._step
        if error is not None:
            err: Dict[str, JsonValue] = {"message": error}
            if location is not None:
                err["location"] = location
            self._manifest["error"] = err
        if self._manifest["totalSteps"] == 0:
            self._manifest["totalSteps"] = self._step
        try:
            self._write_manifest(touch=False)
        finally:
            self._lock.release()
            self._stop_reporting(status, error)

    def __enter__(self) -> "Run":
        self._install_sigterm()
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[types.TracebackType]) -> bool:
        """Ends the run by how the block ended: normally → finished; Ctrl-C or SIGTERM → a final
        checkpoint (when a model was seen) and stopped; an exception → failed, with its message and
        the line of your script it came from. The exception itself goes on as usual."""
        self._restore_sigterm()
        if self._ended:
            return False
        if exc is None:
            self.finish("finished")
        elif isinstance(exc, KeyboardInterrupt):
            try:
                if self._model is not None:
                    self.checkpoint(self._model, self._optimizer, step=self._step)
            finally:
                self.finish("stopped")
        else:
            self.finish("failed", error=_error_message(exc), location=_error_location(tb, self._manifest.get("experiment")))
        return False

    # --- the extension's protocol (only when it launched the script: extension.py)

    def _start_reporting(self, from_step: int) -> None:
        """Says `started` to the extension, and makes its Stop (SIGTERM) and the script's end
        finish the run even without `with`: the process is the extension's to run and stop."""
        self._latest: Optional[Dict[str, float]] = None
        if self._channel is None:
            return
        self._latest = {}
        self._reported_at = time.monotonic()
        self._reported_step = from_step
        self._steps_per_second = 0.0
        self._install_sigterm()
        atexit.register(self._end_at_exit)
        self._channel.send(
            {
                "type": "started",
                "runDir": self.dir,
                "runId": self.id,
                "system": self._manifest["system"],
                "backend": self._manifest["backend"],
                "totalSteps": self._manifest["totalSteps"],
                "fromStep": from_step,
            }
        )

    def _report(self, now: float) -> None:
        """`progress` and `metrics` (the latest value of every key logged): at most one pair per
        flush interval, so a loop of thousands of steps a second sends a few lines a second."""
        if self._channel is None or self._latest is None:
            return
        dt = now - self._reported_at
        if dt >= 0.25:  # a shorter window (a checkpoint right after a flush) says nothing about speed
            self._steps_per_second = (self._step - self._reported_step) / dt
            self._reported_at, self._reported_step = now, self._step
        total = max(int(self._manifest["totalSteps"]), self._step)  # type: ignore[call-overload]
        loss = extension.loss_of(self._latest)
        self._channel.send({"type": "progress", "step": self._step, "totalSteps": total, "loss": loss, "stepsPerSecond": self._steps_per_second})
        if self._latest:
            self._channel.send({"type": "metrics", "step": self._step, "values": extension.metrics_values(self._latest)})

    def _stop_reporting(self, status: str, error: Optional[str]) -> None:
        if self._channel is None:
            return
        self._restore_sigterm()
        atexit.unregister(self._end_at_exit)
        self._report(time.monotonic())
        event: Dict[str, JsonValue] = {"type": "finished", "status": status, "step": self._step, "runDir": self.dir}
        if error is not None:
            event["message"] = error
        self._channel.send(event)

    def _end_at_exit(self) -> None:
        """At the end of a script the extension launched, a run left open is finished by how the
        script ended (the interpreter has printed its traceback and kept the exception as
        `sys.last_value`): Stop or Ctrl-C → final checkpoint and `stopped`; an exception → `failed`."""
        if self._ended:
            return
        exc = getattr(sys, "last_value", None)
        if isinstance(exc, KeyboardInterrupt):
            try:
                if self._model is not None:
                    self.checkpoint(self._model, self._optimizer, step=self._step)
            finally:
                self.finish("stopped")
        elif isinstance(exc, BaseException):
            self.finish("failed", error=_error_message(exc), location=_error_location(exc.__traceback__, self._manifest.get("experiment")))
        else:
            self.finish("finished")

    # --- internals

    def _check_open(self, what: str) -> None:
        if self._ended:
            raise LoggerError(f"run.{what}: the run {self.dir} has ended ({self._manifest['status']}); start another with lm.init")

    def _next_step(self) -> int:
        return self._step + 1 if self._logged else 0

    def _advance(self, step: int) -> None:
        self._step = max(self._step, step)
        if self._manifest["totalSteps"] < self._step:  # type: ignore[operator]
            self._manifest["totalSteps"] = self._step

    def _write_manifest(self, touch: bool = True) -> None:
        if touch:
            self._manifest["updatedAt"] = runfiles.utc_now()
            self._manifest["step"] = self._step
        text = runfiles.dumps(self._manifest) + "\n"
        runfiles.write_atomic(os.path.join(self.dir, "run.json"), [text.encode("utf-8")])
        self._last_manifest = time.monotonic()

    def _install_sigterm(self) -> None:
        """SIGTERM (the extension's Stop) → KeyboardInterrupt, so the run ends `stopped` like Ctrl-C.
        Only in the main thread (elsewhere Python forbids it) and only over the default action."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        self._sigterm = _sigterm_to_interrupt

    def _restore_sigterm(self) -> None:
        if self._sigterm is not None and signal.getsignal(signal.SIGTERM) is self._sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self._sigterm = None


def _sigterm_to_interrupt(signum: int, frame: Optional[types.FrameType]) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _take_lock(run_dir: str, purpose: str) -> runlock.RunLock:
    """The run's writer lock (`<run>/.lock`, as the TypeScript trainer takes it): one writer per folder."""
    try:
        return runlock.acquire(run_dir, runlock.TRAINER_LOCK, purpose)
    except runlock.RunLockedError as e:
        raise LoggerError(f"{e}: another process writes this run; wait for it to end or choose another run_dir") from None
    except OSError as e:
        raise LoggerError(f"cannot take the lock of {run_dir}: {e.strerror or e}") from None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _run_id(name: str) -> str:
    """`<name>-<yyyymmdd-hhmmss>-<4 hex>` (UTC), safe as a folder name, as the trainer names runs."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{safe}-{stamp}-{os.urandom(2).hex()}"


def _make_run_folder(run_dir: str, checkpoint_dir: str) -> None:
    """Creates the folders; refuses one that already holds a run (one writer per run folder)."""
    if os.path.exists(os.path.join(run_dir, "run.json")):
        raise LoggerError(f"{run_dir} already holds a run: choose another run_dir (or leave it out for a new folder under root)")
    try:
        os.makedirs(checkpoint_dir, exist_ok=True)
    except OSError as e:
        raise LoggerError(f"cannot create the run folder {run_dir}: {e.strerror or e}") from None


def _backend() -> Dict[str, JsonValue]:
    versions = {"torch": str(torch.__version__), "python": sys.version.split()[0]}
    return {"name": "pytorch", "reason": "a PyTorch script using the learning_mechanics logger", "package": "torch", "versions": versions}  # type: ignore[dict-item]


def _experiment() -> Optional[Dict[str, JsonValue]]:
    """The calling script (path and sha256): `__main__.__file__`, else `sys.argv[0]`; a notebook's
    file when VS Code or Jupyter names it; None when there is no file (a REPL)."""
    main = sys.modules.get("__main__")
    candidates = [getattr(main, "__file__", None), getattr(main, "__vsc_ipynb_file__", None), getattr(main, "__session__", None)]
    if not candidates[0] and sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        candidates.insert(1, sys.argv[0])
    for c in candidates:
        if isinstance(c, str) and c and os.path.isfile(c):
            path = os.path.abspath(c)
            try:
                return {"path": path, "sha256": runfiles.file_sha256(path)}
            except OSError:
                return None
    return None


def _step_value(step: object) -> int:
    try:
        value = int(step)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise LoggerError(f"step must be a whole number ≥ 0, not {step!r}") from None
    if value < 0 or value != step:
        raise LoggerError(f"step must be a whole number ≥ 0, not {step!r}")
    return value


def _scalar(key: str, value: object) -> float:
    """A number from a Python, numpy or one-element torch value; anything else is the caller's mistake."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an int beyond float's range: not finite as a number, written null
            return math.inf
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise LoggerError(f"run.log: {key!r} is a tensor of shape {list(value.shape)}; log scalars (e.g. loss.item())")
        return float(value.item())
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LoggerError(f"run.log: {key!r} is {type(value).__name__}, not a number") from None


def _named_tensors(model: Weights) -> List[Tuple[str, torch.Tensor]]:
    """The floating-point entries of the state_dict, in its order, as float32 CPU copies. Integer
    buffers (BatchNorm's step counter) are not weights and are left out."""
    state = model.state_dict() if isinstance(model, torch.nn.Module) else model
    if not isinstance(state, Mapping):
        raise LoggerError(f"run.checkpoint takes an nn.Module or a dict of tensors, not {type(model).__name__}")
    out: List[Tuple[str, torch.Tensor]] = []
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            raise LoggerError(f"run.checkpoint: {name!r} is {type(t).__name__}, not a tensor")
        if t.is_floating_point():
            out.append((str(name), runfiles.as_f32(t)))
    return out


def _param_names(model: Weights) -> Dict[int, str]:
    if isinstance(model, torch.nn.Module):
        return {id(p): n for n, p in model.named_parameters()}
    return {id(t): n for n, t in model.items()}


def _optimizer_state(optimizer: torch.optim.Optimizer, model: Weights) -> Tuple[List[Tuple[str, torch.Tensor]], Dict[str, JsonValue]]:
    """Optimizer tensors as `optimizer/<slot>/<parameter name>` (Adam's exp_avg → m, exp_avg_sq → v,
    SGD's momentum_buffer → momentum, other slots under torch's name), and the non-tensor part:
    `t` (updates applied), the class and the hyperparameters of each group."""
    names = _param_names(model)
    slots: List[Tuple[str, torch.Tensor]] = []
    t = 0
    for gi, group in enumerate(optimizer.param_groups):
        for pi, p in enumerate(group["params"]):
            pname = names.get(id(p), f"group{gi}.param{pi}")
            for slot, value in optimizer.state.get(p, {}).items():
                if slot == "step":
                    t = max(t, int(float(value)))
                elif isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() > 0:
                    slots.append((f"optimizer/{SLOT_NAMES.get(slot, slot)}/{pname}", runfiles.as_f32(value)))
    groups = [{k: runfiles.json_safe(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return slots, {"t": t, "class": type(optimizer).__name__, "groups": groups}  # type: ignore[dict-item]


def _error_message(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _error_location(tb: Optional[types.TracebackType], experiment: object) -> Optional[Dict[str, JsonValue]]:
    """The innermost line of the calling script in the traceback (else the innermost line at all)."""
    frames: Iterable[traceback.FrameSummary] = traceback.extract_tb(tb) if tb is not None else []
    frames = list(frames)
    if not frames:
        return None
    script = experiment.get("path") if isinstance(experiment, dict) else None
    mine = [f for f in frames if script is not None and os.path.abspath(f.filename) == script]
    f = (mine or frames)[-1]
    column = (getattr(f, "colno", None) or 0) + 1
    return {"file": os.path.abspath(f.filename), "line": int(f.lineno or 0), "column": int(column)}
