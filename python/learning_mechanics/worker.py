"""`python -m learning_mechanics.worker`: trains one model system for the TypeScript trainer.

Reads `start` (src/shared/workerProtocol.ts) from stdin, loads the data and the step-0 (or
resumed) parameters from the named safetensors file onto the device, and runs the loop of
src/trainer/train.ts: one update per step, evaluation at the eval cadence, parameters and
optimizer state handed back at the checkpoint cadence, a non-finite loss reported with its step.
A `stop` line (or the end of stdin) stops after the current step.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import torch

from . import tensorfile
from .batches import FreshSequences, Prefetched, batch_schedule
from .intervention import ExampleWeights, as_tensor
from .models import SystemModel, UnsupportedModel, build_model, loss_of, weighted_loss_of
from .optim import Optimizer
from .protocol import PROTOCOL_VERSION, TENSOR_PREFIXES, Channel, ProtocolError, StartRequest, check_start, parse_request

EVAL_CHUNK = 8192
PROGRESS_SECONDS = 0.2


class WorkerError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------- devices

def cuda_devices() -> List[str]:
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(request: str) -> torch.device:
    """The torch device for "cpu", "cuda", "cuda:N" or "mps", or a WorkerError saying what to choose."""
    if request == "cpu":
        return torch.device("cpu")
    if request == "cuda" or request.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}, but no CUDA device or driver is visible"
            raise WorkerError("device", f"device {request}: this PyTorch ({torch.__version__}) is {build}. Choose --device cpu, or install a CUDA build of PyTorch on a machine with an NVIDIA GPU.")
        if request != "cuda":
            index = request[5:]
            n = torch.cuda.device_count()
            if not index.isdigit() or int(index) >= n:
                raise WorkerError("device", f"device {request} does not exist: this machine has {n} CUDA device{'s' if n != 1 else ''} ({', '.join(cuda_devices())})")
        return torch.device(request)
    if request == "mps":
        if not mps_available():
            raise WorkerError("device", f"device mps: this PyTorch ({torch.__version__}) has no usable Apple MPS backend (macOS 12.3+ on Apple silicon). Choose --device cpu.")
        return torch.device("mps")
    raise WorkerError("device", f"unknown device {request!r}: expected cpu, cuda, cuda:N or mps")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return platform.processor() or platform.machine() or "cpu"


# ---------------------------------------------------------------- stdin

class Requests:
    """Reads stdin on a thread, so a `stop` arrives while the loop runs."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.stop = threading.Event()
        self.eof = threading.Event()
        self._start: Optional[Dict[str, Any]] = None
        self._start_ready = threading.Event()
        self.problem: Optional[str] = None
        threading.Thread(target=self._run, name="lm-stdin", daemon=True).start()

    def _run(self) -> None:
        for line in self.stream:
            if not line.strip():
                continue
            try:
                req = parse_request(line)
            except ProtocolError as e:
                if self._start is None:
                    self.problem = str(e)
                    self._start_ready.set()
                continue  # after start, an unknown line is ignored rather than killing a run
            if req["type"] == "start" and self._start is None:
                self._start = req
                self._start_ready.set()
            elif req["type"] == "stop":
                self.stop.set()
                self._start_ready.set()
        self.eof.set()
        self.stop.set()
        self._start_ready.set()

    def wait_start(self) -> Optional[Dict[str, Any]]:
        self._start_ready.wait()
        if self.problem is not None:
            raise WorkerError("protocol", self.problem)
        return self._start


# ---------------------------------------------------------------- the run

class Split:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, f0: Optional[torch.Tensor]) -> None:
        self.x = x
        self.y = y
        self.f0 = f0
        self.n = int(x.shape[0])


class Run:
    """One training run on one device: the TypeScript loop (src/trainer/train.ts), step for step."""

    def __init__(self, start: StartRequest, channel: Channel, requests: Requests) -> None:
        self.channel = channel
        self.requests = requests
        self.system = start["system"]
        self.exchange_dir = start["exchangeDir"]
        self.from_step = int(start["fromStep"])
        threads = start.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = resolve_device(start["device"])

        spec = self.system
        try:
            model = build_model(spec["model"], spec["input"], spec["output"])
        except UnsupportedModel as e:
            raise WorkerError("spec", str(e)) from None
        except (KeyError, ValueError, TypeError) as e:
            raise WorkerError("spec", f"cannot build the model from the spec: {e}") from None
        try:
            tensors, _ = tensorfile.read(start["tensorsFile"])
        except OSError as e:
            raise WorkerError("io", f"cannot read {start['tensorsFile']}: {e.strerror or e}") from None
        except ValueError as e:
            raise WorkerError("data", str(e)) from None

        self._load_params(model, tensors, TENSOR_PREFIXES["param"])
        self.system_model = SystemModel(model, spec["model"]).to(self.device)
        self.params = dict(self.system_model.model.named_parameters())
        self.classes = spec["output"]["kind"] == "classes"
        self.train = self._split(tensors, "train")
        self.test = self._split(tensors, "test")
        if self.system_model.centred:
            # f(w₀, x) from the step-0 parameters: sent as init/ when resuming, else the start values are w₀.
            init_model = build_model(spec["model"], spec["input"], spec["output"])
            has_init = any(k.startswith(TENSOR_PREFIXES["init"]) for k in tensors)
            self._load_params(init_model, tensors, TENSOR_PREFIXES["init"] if has_init else TENSOR_PREFIXES["param"])
            init_model.to(self.device)
            with torch.no_grad():
                self.train.f0 = self._chunked(init_model, self.train.x)
                self.test.f0 = self._chunked(init_model, self.test.x) if self.test.n else None

        self.masks = self._masks(tensors)
        self.optimizer = Optimizer(spec["optimizer"], self.params, int(spec["steps"]))
        opt_prefix = TENSOR_PREFIXES["optimizer"]
        slots = {k[len(opt_prefix):]: v for k, v in tensors.items() if k.startswith(opt_prefix)}
        if int(start["optimizerT"]) > 0 or slots:
            try:
                self.optimizer.import_state(int(start["optimizerT"]), slots)
            except ValueError as e:
                raise WorkerError("data", str(e)) from None
        if self.masks:
            # The trainer sends them masked already; zeroed here too so the worker's invariant
            # (masked weights and their optimizer state exactly zero) does not rest on the sender.
            self._mask_params()
            self.optimizer.mask_state(self.masks)
        fresh = spec.get("freshSequences")
        # Fresh sequences every step (inContextRegression): drawn here from (seed, t) as TypeScript draws them.
        self.fresh = (
            Prefetched(FreshSequences(fresh), int(spec["seed"]), int(spec["batchSize"]), self.from_step + 1, int(spec["steps"]))
            if fresh
            else None
        )
        self.batches = None if self.fresh else batch_schedule(spec["batchSize"], self.train.n, int(spec["seed"]))
        weights = spec.get("exampleWeights")
        # An intervention branch (lm intervene, lm calibrate): per-example loss weights.
        self.weights = ExampleWeights(weights) if weights else None
        channel.send("ready", device=str(self.device), deviceName=device_name(self.device), threads=torch.get_num_threads(), fromStep=self.from_step)

    # --- loading

    def _load_params(self, model: torch.nn.Module, tensors: Dict[str, torch.Tensor], prefix: str) -> None:
        """Copies `prefix<name>` into each parameter, checking the names and shapes against the
        spec's list, so a model that is not the TypeScript one's twin fails loudly."""
        ours = dict(model.named_parameters())
        theirs = [(p["name"], [int(s) for s in p["shape"]]) for p in self.system["params"]]
        if [n for n, _ in theirs] != list(ours):
            raise WorkerError("spec", f"the PyTorch model has parameters {list(ours)}, the trainer sent {[n for n, _ in theirs]}")
        with torch.no_grad():
            for name, shape in theirs:
                p = ours[name]
                if list(p.shape) != shape:
                    raise WorkerError("spec", f'parameter "{name}": the PyTorch model has shape {list(p.shape)}, the trainer sent {shape}')
                t = tensors.get(prefix + name)
                if t is None:
                    raise WorkerError("data", f'{prefix}{name} is missing from the tensors file')
                if list(t.shape) != shape:
                    raise WorkerError("data", f'{prefix}{name} has shape {list(t.shape)}, expected {shape}')
                p.copy_(t.to(torch.float32))

    def _masks(self, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The run's weight masks (`mask/<param>`, 0/1; src/trainer/masks.ts), on the device. The
        trainer checked them against the model; checked again so a bad file fails by name here."""
        prefix = TENSOR_PREFIXES["mask"]
        masks: Dict[str, torch.Tensor] = {}
        for key, t in tensors.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            p = self.params.get(name)
            if p is None:
                raise WorkerError("data", f'mask "{name}" names no parameter of this model (it has: {", ".join(self.params)})')
            if list(t.shape) != list(p.shape):
                raise WorkerError("data", f'mask "{name}" has shape {list(t.shape)}, the parameter has {list(p.shape)}')
            masks[name] = t.to(self.device, torch.float32)
        return masks

    def _mask_grads(self) -> None:
        """Zeroes the masked entries of the gradients before the update. With a zero gradient, and
        the moments the trainer sends zeroed at the masked entries (masks.ts `maskSlots`), Adam's
        m and v and SGD's momentum stay exactly zero there, so the update there is 0 / (√0 + eps) = 0;
        coupled weight decay adds wd·w = 0 and AdamW's decoupled decay multiplies 0 by (1 − lr·wd)."""
        for name, m in self.masks.items():
            g = self.params[name].grad
            if g is not None:
                g.mul_(m)

    def _mask_params(self) -> None:
        """Zeroes the masked weights after the update, as the tfjs loop does: the gradient masking
        above already keeps them at zero, but this holds whatever the optimizer does (a momentum
        slot imported from elsewhere, a future optimizer), and costs one multiply per tensor."""
        with torch.no_grad():
            for name, m in self.masks.items():
                self.params[name].mul_(m)

    def _split(self, tensors: Dict[str, torch.Tensor], which: str) -> Split:
        pre = TENSOR_PREFIXES["data"] + which
        x, y = tensors.get(pre + ".x"), tensors.get(pre + ".y")
        if x is None or y is None:
            raise WorkerError("data", f"{pre}.x or {pre}.y is missing from the tensors file")
        # Token ids index tables: int64 (torch 1.13's embedding takes int32 too, but not every op does).
        x = x.to(torch.int64) if self.system["input"]["kind"] == "tokens" else x.to(torch.float32)
        y = y.to(torch.int64) if self.classes else y.to(torch.float32)
        return Split(x.to(self.device), y.to(self.device), None)

    def _chunked(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([model(x[i : i + EVAL_CHUNK]) for i in range(0, int(x.shape[0]), EVAL_CHUNK)]) if x.shape[0] else x.new_zeros(0)

    # --- evaluation and checkpoints

    def evaluate(self, s: Split) -> Tuple[float, float]:
        loss_sum = 0.0
        correct = 0.0
        with torch.no_grad():
            for i in range(0, s.n, EVAL_CHUNK):
                x, y = s.x[i : i + EVAL_CHUNK], s.y[i : i + EVAL_CHUNK]
                out = self.system_model.output(x, s.f0[i : i + EVAL_CHUNK] if s.f0 is not None else None)
                size = int(x.shape[0])
                loss_sum += float(loss_of(out, y, self.classes)) * size
                if self.classes:
                    correct += float((out.argmax(-1) == y).sum())
        return loss_sum / s.n, correct / s.n

    def record(self, step: int) -> bool:
        """Evaluates at `step` and sends `metrics`; False when the loss or the weights are not finite."""
        values: Dict[str, Optional[float]] = {}
        tr_loss, tr_acc = self.evaluate(self.train)
        values["train_loss"] = tr_loss
        if self.classes:
            values["train_acc"] = tr_acc
        if self.test.n > 0:
            te_loss, te_acc = self.evaluate(self.test)
            values["test_loss"] = te_loss
            if self.classes:
                values["test_acc"] = te_acc
        values["lr"] = self.optimizer.next_lr()
        with torch.no_grad():
            norm = math.sqrt(float(sum(torch.sum(p * p) for p in self.params.values())))
        values["param_norm"] = norm
        self.channel.send("metrics", step=step, values=values)
        return math.isfinite(tr_loss) and math.isfinite(norm)

    def checkpoint(self, step: int) -> None:
        t, slots = self.optimizer.export_state()
        tensors: Dict[str, torch.Tensor] = {TENSOR_PREFIXES["param"] + n: p.detach() for n, p in self.params.items()}
        for k, v in slots.items():
            tensors[TENSOR_PREFIXES["optimizer"] + k] = v
        path = os.path.join(self.exchange_dir, f"checkpoint-{step}.safetensors")
        try:
            tensorfile.write(path, tensors, {"step": str(step), "optimizer_t": str(t)})
        except OSError as e:
            raise WorkerError("io", f"cannot write {path}: {e.strerror or e}") from None
        self.channel.send("checkpoint", step=step, file=path, optimizerT=t)

    # --- the loop

    def run(self) -> None:
        spec = self.system
        total = int(spec["steps"])
        every_eval, every_ckpt = int(spec["evalEvery"]), int(spec["checkpointEvery"])
        sm, train, opt = self.system_model, self.train, self.optimizer
        step = self.from_step
        if step == 0:
            if not self.record(0):
                self.channel.send("diverged", step=0, reason="the loss at initialization is not finite")
                return
            self.checkpoint(0)

        t0 = time.perf_counter()
        last_progress = 0.0
        rate_step, rate_time, rate = step, t0, 0.0
        while step < total:
            t = step + 1
            rows: Optional[List[int]] = None
            if self.fresh is not None:
                fx, fy = self.fresh.batch(t)
                bx, by = fx.to(self.device), fy.to(self.device)
                bf0 = None
            elif self.batches is not None:
                rows = self.batches.indices(t)
                idx = torch.tensor(rows, device=self.device)
                bx, by = train.x[idx], train.y[idx]
                bf0 = train.f0[idx] if train.f0 is not None else None
            else:
                bx, by, bf0 = train.x, train.y, train.f0
            opt.zero_grad()
            w = self.weights.at(t, rows, train.n) if self.weights is not None else None
            out = sm.output(bx, bf0)
            objective = loss_of(out, by, self.classes) if w is None else weighted_loss_of(out, by, self.classes, as_tensor(w, self.device))
            scaled = objective * sm.loss_scale
            scaled.backward()
            loss = scaled.detach().item() / sm.loss_scale
            if not math.isfinite(loss):
                # As the TypeScript loop: the update is not applied; `step` is the last finite one.
                self.channel.send("diverged", step=step, reason=f"the training loss became {_js_number(loss)}")
                return
            if self.masks:
                self._mask_grads()
            opt.step()
            if self.masks:
                self._mask_params()
            step = t

            stopping = self.requests.stop.is_set()
            if stopping and self.requests.eof.is_set():
                return  # nobody is listening: no final evaluation or checkpoint
            due_eval = step % every_eval == 0 or step == total
            due_ckpt = step % every_ckpt == 0 or step == total
            if due_eval or due_ckpt or stopping:
                if not self.record(step):
                    self.channel.send("diverged", step=step, reason="the loss or the weights became non-finite")
                    return
            if due_ckpt or stopping:
                self.checkpoint(step)

            now = time.perf_counter()
            if now - rate_time >= 1.0:
                rate = (step - rate_step) / (now - rate_time)
                rate_step, rate_time = step, now
            if now - last_progress >= PROGRESS_SECONDS or step == total:
                last_progress = now
                self.channel.send("progress", step=step, loss=loss, stepsPerSecond=rate or (step - self.from_step) / max(1e-3, now - t0))
            if stopping:
                self.channel.send("finished", status="stopped", step=step)
                return
        self.channel.send("finished", status="finished", step=step)


def _js_number(x: float) -> str:
    """NaN / Infinity / -Infinity as JavaScript prints them (the message matches the tfjs backends')."""
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def hello(channel: Channel) -> None:
    channel.send(
        "hello",
        protocol=PROTOCOL_VERSION,
        pid=os.getpid(),
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.cuda.is_available(),
        devices=["cpu", *cuda_devices(), *(["mps"] if mps_available() else [])],
    )


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the trainer turns it into `stop` (or
    # ends our stdin), so the worker must not die of it mid-checkpoint with a KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = Channel(sys.stdout)
    # Anything else printed to stdout (a library's warning) would corrupt the protocol: send it to stderr.
    sys.stdout = sys.stderr
    hello(channel)
    requests = Requests(sys.stdin)
    try:
        req = requests.wait_start()
        if req is None:
            return 0  # stopped or stdin closed before start: nothing to do
        run = Run(check_start(req), channel, requests)
        run.run()
        return 0
    except WorkerError as e:
        channel.send("error", kind=e.kind, message=str(e))
        return 1
    except ProtocolError as e:
        channel.send("error", kind="protocol", message=str(e))
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the trainer, which shows it
        import traceback

        traceback.print_exc(file=sys.stderr)
        channel.send("error", kind="internal", message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
