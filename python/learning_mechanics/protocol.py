"""The worker side of src/shared/workerProtocol.ts: JSON lines over stdio, tensors in safetensors
files. Keep the two in step (test/integration/torchWorker.test.ts compares the message type lists,
the tensor prefixes and the version). Prose: docs/worker-protocol.md.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Dict, List, Literal, Optional, TextIO, Tuple, TypedDict, Union

PROTOCOL_VERSION = 2

# Worker → trainer, in the order of src/shared/workerProtocol.ts WORKER_EVENT_TYPES.
EVENT_TYPES: Tuple[str, ...] = ("hello", "ready", "progress", "metrics", "checkpoint", "diverged", "finished", "log", "error")
# Trainer → worker.
REQUEST_TYPES: Tuple[str, ...] = ("start", "stop")

# Tensor name prefixes in the exchanged files (WORKER_TENSORS).
TENSOR_PREFIXES: Dict[str, str] = {"data": "data/", "param": "param/", "init": "init/", "optimizer": "optimizer/", "mask": "mask/"}

ErrorKind = Literal["device", "spec", "data", "protocol", "io", "internal"]


class ParamInfo(TypedDict):
    name: str
    shape: List[int]


class WorkerSystem(TypedDict, total=False):
    """The resolved system (model and optimizer specs as src/sdk/spec.ts defines them)."""

    model: Dict[str, Any]
    optimizer: Dict[str, Any]
    input: Dict[str, Any]
    output: Dict[str, Any]
    steps: int
    batchSize: Union[str, int]
    evalEvery: int
    checkpointEvery: int
    seed: int
    params: List[ParamInfo]
    # inContextRegression without a fixed training set: {dim, points, noise, tasks?, dataSeed}.
    freshSequences: Dict[str, Any]
    # An intervention branch: {action, examples} (src/shared/interventionFormat.ts), per-example loss weights.
    exampleWeights: Dict[str, Any]


class StartRequest(TypedDict, total=False):
    type: Literal["start"]
    protocol: int
    system: WorkerSystem
    tensorsFile: str
    exchangeDir: str
    device: str
    threads: int
    fromStep: int
    optimizerT: int


class ProtocolError(ValueError):
    """A request the worker cannot understand."""


def _finite(x: Any) -> Any:
    # JSON has no NaN/Infinity: non-finite metrics travel as null.
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    return x


class Channel:
    """Writes events to stdout, one JSON object per line, flushed (the trainer reads them as they come)."""

    def __init__(self, out: Optional[TextIO] = None) -> None:
        self.out = out if out is not None else sys.stdout

    def send(self, type: str, **fields: Any) -> None:
        if type not in EVENT_TYPES:
            raise ValueError(f"not a worker event: {type!r}")
        self.out.write(json.dumps(_finite({"type": type, **fields}), allow_nan=False) + "\n")
        self.out.flush()


def parse_request(line: str) -> Dict[str, Any]:
    """One line of stdin as a request, or ProtocolError naming what is wrong."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not JSON: {e.msg} in {line[:80]!r}") from None
    if not isinstance(value, dict) or value.get("type") not in REQUEST_TYPES:
        raise ProtocolError(f"not a worker request (expected type {' or '.join(REQUEST_TYPES)}): {line[:80]!r}")
    return value


def check_start(req: Dict[str, Any]) -> StartRequest:
    """Checks the fields of `start` the worker relies on."""
    if req.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError(f"the trainer speaks worker protocol {req.get('protocol')!r}, this worker {PROTOCOL_VERSION}; use the worker shipped with the same extension version")
    for field, kind in (("system", dict), ("tensorsFile", str), ("exchangeDir", str), ("device", str), ("fromStep", int), ("optimizerT", int)):
        if not isinstance(req.get(field), kind):
            raise ProtocolError(f"start: field {field!r} is missing or not a {kind.__name__}")
    return req  # type: ignore[return-value]
