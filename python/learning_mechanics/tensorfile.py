"""Reads and writes safetensors files with torch alone (no `safetensors` or numpy dependency).

  [8 bytes]  N, header length, unsigned little-endian 64-bit
  [N bytes]  JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}, space-padded to 8
  [rest]     raw little-endian tensor data

Only the dtypes the worker exchanges are supported: F32, I32 and I64 (and F64 for tests).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Dict, Mapping, Optional, Tuple

import torch

_DTYPES: Dict[str, torch.dtype] = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}
_NAMES = {v: k for k, v in _DTYPES.items()}

if sys.byteorder != "little":  # pragma: no cover - every platform torch ships for is little-endian
    raise ImportError("learning_mechanics.tensorfile needs a little-endian machine")


def _tensor_bytes(t: torch.Tensor) -> bytes:
    # The CPU tensor's memory as bytes, without numpy: ctypes reads the contiguous buffer.
    c = t.detach().to("cpu").contiguous()
    n = c.numel() * c.element_size()
    return ctypes.string_at(c.data_ptr(), n) if n else b""


def write(path: str, tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> int:
    """Writes `tensors` (in the given order) to `path` atomically (temporary file, then rename); returns the size."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in _NAMES:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} cannot be written (F32, F64, I32, I64 only)")
        data = _tensor_bytes(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return 8 + len(text) + offset


def read(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """All tensors of a safetensors file (CPU, owning their memory) and its metadata."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file ({len(raw)} bytes)")
    n = int.from_bytes(raw[:8], "little")
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} exceeds the file size {len(raw)}")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    metadata = {str(k): str(v) for k, v in header.pop("__metadata__", {}).items()}
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has dtype {info['dtype']}; the worker reads F32, F64, I32, I64")
        begin, end = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        if base + end > len(raw) or begin > end:
            raise ValueError(f"{path}: tensor {name!r} lies outside the file")
        count = 1
        for s in shape:
            count *= s
        if count == 0:
            out[name] = torch.zeros(shape, dtype=dtype)
            continue
        buf = raw[base + begin : base + end]
        t = torch.frombuffer(buf, dtype=dtype)
        if t.numel() != count:
            raise ValueError(f"{path}: tensor {name!r} has {t.numel()} values for shape {shape}")
        out[name] = t.reshape(shape).clone()
    return out, metadata
