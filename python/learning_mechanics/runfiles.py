"""Writing the files of a run folder (docs/run-format.md) safely, with torch alone.

The extension watches run folders while they are written, so every whole file (run.json, a
checkpoint) goes through a temporary name in the same folder, is fsynced, then renamed over the
final name: a reader sees the old file or the complete new one, never half of it. Temporary names
follow the trainer's pattern `.<name>.<pid>.<8 hex>.tmp`, so a killed write is recognised and
cleaned up by the trainer, and ignored by every reader.
"""

from __future__ import annotations

import ctypes
import datetime
import hashlib
import json
import math
import os
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

if sys.byteorder != "little":  # pragma: no cover - every platform torch ships for is little-endian
    raise ImportError("learning_mechanics.runfiles needs a little-endian machine")

JsonValue = Union[None, bool, int, float, str, List["JsonValue"], Dict[str, "JsonValue"]]

RUN_FORMAT = "learning-mechanics/run"
RUN_FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "learning-mechanics/checkpoint"


def utc_now() -> str:
    """ISO 8601 with milliseconds and a Z, as the trainer writes (`2025-06-01T12:00:00.000Z`)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def checkpoint_name(step: int) -> str:
    """`step-00001200.safetensors`: padded to 8 digits so a plain sort is step order."""
    return f"step-{step:08d}.safetensors"


def finite_or_none(x: float) -> Optional[float]:
    """JSON has no NaN or Infinity: the format writes a non-finite number as null."""
    return x if math.isfinite(x) else None


def json_safe(value: object) -> JsonValue:
    """A JSON-writable copy of a config value: non-finite floats become null, tensors and numpy
    scalars their numbers, anything else unknown its `repr` (a config is shown, never executed)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars, without importing numpy
    if callable(item) and getattr(value, "shape", None) == ():
        return json_safe(item())
    if callable(value):
        return getattr(value, "__name__", None) or repr(value)
    return repr(value)


# One encoder for every call: `json.dumps` with options builds a new one each time (a third of the
# cost of a metrics line).
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def dumps(value: object) -> str:
    """JSON text that any JSON parser accepts: refuses NaN/Infinity instead of writing tokens."""
    return _ENCODER.encode(value)


def write_atomic(path: str, chunks: Sequence[bytes]) -> int:
    """Writes `chunks` to `path` through a temporary file (fsynced, then renamed); returns the size."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    size = 0
    try:
        with open(tmp, "wb") as f:
            for c in chunks:
                f.write(c)
                size += len(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Ctrl-C in the middle of a write must not leave the temporary file behind.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)
    return size


def _fsync_folder(folder: str) -> None:
    """Makes the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: str) -> str:
    """`sha256:<hex>` of a file's bytes, as run.json's `experiment.sha256` records it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def as_f32(t: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous float32 CPU copy (the format stores parameters as F32)."""
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous()


def _raw_bytes(t: torch.Tensor) -> bytes:
    """The bytes of a contiguous CPU tensor, without numpy (ctypes reads the buffer)."""
    n = t.numel() * t.element_size()
    return ctypes.string_at(t.data_ptr(), n) if n else b""


def safetensors_chunks(tensors: Sequence[Tuple[str, torch.Tensor]], metadata: Mapping[str, str]) -> List[bytes]:
    """The pieces of a safetensors file holding `tensors` (float32, CPU, contiguous) in order."""
    header: Dict[str, object] = {"__metadata__": dict(metadata)}
    blobs: List[bytes] = []
    offset = 0
    for name, t in tensors:
        data = _raw_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return [len(text).to_bytes(8, "little"), text, *blobs]


def tensor_stats(w: torch.Tensor, w0: Optional[torch.Tensor]) -> Dict[str, Optional[float]]:
    """‖W‖_F and ‖W − W₀‖_F / ‖W₀‖_F, the checkpoint `stats` the trainer writes (runFolder.ts
    `tensorStats`): float32 values, sums in float64, relChange null without W₀ or when ‖W₀‖ = 0,
    and any non-finite result null (JSON)."""
    x = w.detach().to(device="cpu", dtype=torch.float64)
    norm = math.sqrt(float(torch.sum(x * x)))
    rel: Optional[float] = None
    if w0 is not None:
        x0 = w0.detach().to(device="cpu", dtype=torch.float64)
        sq0 = float(torch.sum(x0 * x0))
        if sq0 > 0:
            d = x - x0
            rel = math.sqrt(float(torch.sum(d * d)) / sq0)
    return {"norm": finite_or_none(norm), "relChange": None if rel is None else finite_or_none(rel)}
