"""The logger's side of a script run by the VS Code extension ("▶ Run" on a `.py` experiment).

The extension starts the script with `LM_PROTOCOL=1`, `LM_PROTOCOL_FD=<fd>` (a pipe it reads) and
`LM_RUNS_ROOT=<the workspace's run root>`. Then the logger writes the events of the trainer
protocol (src/shared/trainerProtocol.ts: `started`, `progress`, `metrics`, `checkpoint`,
`finished`), one JSON line each, on that descriptor, so the status bar, the code lens, the curves
and Stop work as for a TypeScript system. The descriptor is the protocol's alone: the script's own
prints stay on stdout and stderr, which the extension shows in an output channel.

Without those variables (a plain `python script.py`, a notebook) nothing here does anything.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Dict, Mapping, Optional

from . import runfiles
from .runfiles import JsonValue

#: src/shared/trainerProtocol.ts PROTOCOL_VERSION (the events used here are unchanged since 1).
PROTOCOL_VERSION = 1
ENV_PROTOCOL = "LM_PROTOCOL"
ENV_FD = "LM_PROTOCOL_FD"
ENV_RUNS_ROOT = "LM_RUNS_ROOT"
#: Keys whose latest value the status bar shows as "loss", in this order; else the first key with "loss" in it.
LOSS_KEYS = ("train_loss", "loss", "loss/train", "train/loss", "loss/batch", "batch_loss")


class Channel:
    """The protocol pipe. A write that fails (the extension went away) ends the channel, never the
    training: the run folder stays the record."""

    def __init__(self, fd: int, runs_root: Optional[str]) -> None:
        self.fd = fd
        self.runs_root = runs_root
        self.broken = False

    def send(self, event: Mapping[str, JsonValue]) -> None:
        if self.broken:
            return
        data = (runfiles.dumps(event) + "\n").encode("utf-8")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            self.broken = True


_channel: Optional[Channel] = None
_looked = False


def channel() -> Optional[Channel]:
    """The extension's channel when it launched this process, else None. Looked up once; the
    variables are then removed from this process's environment, so a subprocess the script starts
    (a sweep of other scripts) does not write into a descriptor that is not its own."""
    global _channel, _looked
    if _looked:
        return _channel
    _looked = True
    if os.environ.get(ENV_PROTOCOL) != "1":
        return None
    fd_text = os.environ.pop(ENV_FD, "")
    runs_root = os.environ.pop(ENV_RUNS_ROOT, "") or None
    os.environ.pop(ENV_PROTOCOL, None)
    try:
        fd = int(fd_text)
        mode = os.fstat(fd).st_mode
    except (ValueError, OSError):
        return None
    # Only a pipe or socket is the extension's: a number naming some file of this process is not.
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    _channel = Channel(fd, runs_root)
    return _channel


def finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None


def loss_of(latest: Mapping[str, float]) -> Optional[float]:
    """The value the status bar shows as the loss: a known loss key, else the first key naming a loss."""
    for k in LOSS_KEYS:
        if k in latest:
            return finite(latest[k])
    for k, v in latest.items():
        if "loss" in k.lower():
            return finite(v)
    return None


def metrics_values(latest: Mapping[str, float]) -> Dict[str, JsonValue]:
    return {k: finite(v) for k, v in latest.items()}
