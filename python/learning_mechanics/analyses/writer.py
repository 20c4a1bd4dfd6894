"""One analysis file of a run, opened for appending; and the analyzer lock. The Python twin of
src/trainer/analyzer/writer.ts and src/shared/runLock.ts (docs/analysis-format.md, "Rules for
writers and readers"):

- the first line is the header; every record is one line appended with one `write` (O_APPEND), so
  a reader never sees half a line, and a line cut by a crash is the file's last, without newline;
- resumable: the steps already present are skipped, a cut last line is truncated away first;
- a file with other settings (or other scored examples) is moved to `analyses/archive/` (never
  deleted) and a new one started; a file that merely has the name, a symbolic link or a special
  file is left alone with a message;
- locks hold the writer's pid (O_EXCL); a lock whose pid is dead is taken over.
  `analyses/.lock-model` is held by every Python writer (run.watch, `analyze`) while it writes, so
  two of them never append to the same files. `analyses/.lock` is the TypeScript analyzer's
  (src/shared/runLock.ts): `analyze` takes it too; `run.watch` does not, because the extension's
  analyzer holds it for the whole life of a run it follows, writing only `weights.jsonl` (a file
  run.watch never writes) and `conservation.jsonl` for a run whose model it cannot load — unless
  this package wrote that file first: the TypeScript analyzer leaves a file whose header names
  another producer alone (src/trainer/analyzer/writer.ts `otherProducer`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from .. import runfiles

ANALYSIS_FORMAT = "learning-mechanics/analysis"
ANALYSIS_FORMAT_VERSION = 1
#: What a file's header says wrote it (the TypeScript analyzer writes "learning-mechanics <version>").
PRODUCER = "learning-mechanics-python 0.1.0"
#: A line longer than this is a bad line (READ_LIMITS.lineBytes of src/shared/safeRead.ts).
LINE_LIMIT = 16 << 20
ANALYSES_DIR = "analyses"
#: The TypeScript analyzer's lock (ANALYZER_LOCK of src/shared/runLock.ts).
LOCK_NAME = ".lock"
#: The lock of the Python writers of the model analyses.
MODEL_LOCK_NAME = ".lock-model"


class AnalysisWriteError(ValueError):
    """The run folder cannot be written as asked (a foreign file, a symbolic link, a lock held): the message says what to do."""


def canonical(value: Any) -> str:
    """JSON with sorted keys (src/shared/analysisFormat.ts `canonicalJson`), so equal settings compare equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    """Non-finite numbers → None (the format writes them null); tensors and numpy numbers → floats."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        return _finite(item())
    return value


def record_line(record: Mapping[str, Any]) -> str:
    return json.dumps(_finite(record), separators=(",", ":"), allow_nan=False)


def ensure_real_folder(folder: str) -> None:
    """Creates `folder` (one level) unless it is a real folder already; refuses a symbolic link or a file there."""
    try:
        os.mkdir(folder)
        return
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
        raise AnalysisWriteError(f"{folder} is {kind}: the analyzer writes only inside the run folder")


def _read_lines(path: str) -> Tuple[List[bytes], int, bool]:
    """The complete lines of a regular file (without their newline), the bytes up to the last
    newline, and whether a partial last line follows. Opened without following a symbolic link."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AnalysisWriteError(f"{path} is not a regular file: the analyzer neither reads nor replaces it; remove it to analyse this run")
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1] if end > 0 else []
    return lines, end, end < len(data)


def _header_of(line: bytes) -> Optional[Dict[str, Any]]:
    try:
        h = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return h if isinstance(h, dict) else None


class AnalysisWriter:
    """`analyses/<name>.jsonl` of a run, continued or started (see the module's docstring)."""

    def __init__(self, run_dir: str, name: str, header: Mapping[str, Any], now: Optional[str] = None) -> None:
        self.run_dir = run_dir
        self.name = name
        folder = os.path.join(run_dir, ANALYSES_DIR)
        ensure_real_folder(folder)
        self.path = os.path.join(folder, f"{name}.jsonl")
        created = now or runfiles.utc_now()
        self.header: Dict[str, Any] = {
            "format": ANALYSIS_FORMAT,
            "formatVersion": ANALYSIS_FORMAT_VERSION,
            "analysis": name,
            "producer": PRODUCER,
            "createdAt": created,
            **dict(header),
        }
        self.done: Set[int] = set()
        #: ("new" | "continued" | "archived", detail): what opening did, for the caller's message.
        self.opened: Tuple[str, str] = self._open(created)

    def _open(self, created: str) -> Tuple[str, str]:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            self._start()
            return ("new", "")
        if not stat.S_ISREG(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise AnalysisWriteError(f"{self.path} is {kind}: the analyzer neither follows nor replaces it; remove it to analyse this run")
        if st.st_size == 0:
            self._start()
            return ("new", "")
        lines, complete, partial = _read_lines(self.path)
        head = _header_of(lines[0]) if lines else None
        own = head is not None and head.get("format") == ANALYSIS_FORMAT and head.get("analysis") == self.name
        if not own:
            first = lines[0][:200].decode("utf-8", "replace") if lines else "(no complete first line)"
            raise AnalysisWriteError(
                f'{self.path} is not a "{self.name}" analysis file of Learning Mechanics (first line: {first}); the analyzer leaves it alone: move it away to analyse this run'
            )
        assert head is not None
        version = head.get("formatVersion")
        readable = isinstance(version, (int, float)) and version <= ANALYSIS_FORMAT_VERSION and isinstance(head.get("settings"), dict)
        same_settings = readable and canonical(head.get("settings")) == canonical(self.header.get("settings"))
        same_examples = canonical(head.get("examples")) == canonical(self.header.get("examples"))
        if same_settings and same_examples:
            for line in lines[1:]:
                step = _step_of(line)
                if step is not None:
                    self.done.add(step)
            if partial:
                # Drop a cut last line so the next record starts on a line of its own.
                os.truncate(self.path, complete)
            return ("continued", str(len(self.done)))
        if not readable:
            reason = f"the header cannot be read (formatVersion {version!r})"
        else:
            reason = "the scored examples changed" if same_settings else "the settings changed"
        archive = os.path.join(os.path.dirname(self.path), "archive")
        ensure_real_folder(archive)
        stamp = created.replace(":", "-").replace(".", "-")
        target = os.path.join(archive, f"{self.name}-{stamp}.jsonl")
        os.rename(self.path, target)
        self._start()
        return ("archived", f"{reason}; the old file is {target}")

    def _start(self) -> None:
        runfiles.write_atomic(self.path, [(json.dumps(_finite(self.header), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")])

    def has(self, step: int) -> bool:
        return step in self.done

    def append(self, record: Mapping[str, Any]) -> None:
        """One record, one line, one write. Non-finite numbers are written as null."""
        data = (record_line(record) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EIO, f"{self.path}: short write ({written} of {len(data)} bytes)")
        finally:
            os.close(fd)
        self.done.add(int(record["step"]))


def _step_of(line: bytes) -> Optional[int]:
    if len(line) > LINE_LIMIT:
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    step = value.get("step")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
        return None
    return int(step)


def due_steps(steps: List[int], every: int, include_last: bool = True) -> List[int]:
    """Every `every`-th of the sorted steps counting from the first, plus the last when the run has
    ended (`dueSteps` of writer.ts); `every` 0 covers none."""
    if every <= 0 or not steps:
        return []
    out = [s for i, s in enumerate(steps) if i % every == 0]
    if include_last and out[-1] != steps[-1]:
        out.append(steps[-1])
    return out


# ---------------------------------------------------------------- the analyzer lock

def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _lock_owner(path: str) -> Optional[Dict[str, Any]]:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 4096:
            return None
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("pid"), int):
        return None
    return value


class AnalyzerLock:
    """`<run>/analyses/<name>` (.lock or .lock-model) for this process, as src/shared/runLock.ts
    takes ANALYZER_LOCK. `release` removes it."""

    def __init__(self, run_dir: str, name: str = LOCK_NAME) -> None:
        folder = os.path.join(run_dir, ANALYSES_DIR)
        ensure_real_folder(folder)
        self.path = os.path.join(folder, name)
        self.recovered: Optional[Dict[str, Any]] = None
        me = {"pid": os.getpid(), "purpose": "analyze", "since": runfiles.utc_now()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except FileExistsError:
                owner = _lock_owner(self.path)
                if owner is not None and (owner["pid"] == os.getpid() or _pid_alive(owner["pid"])):
                    raise AnalysisWriteError(
                        f"{self.path}: the run's analyses are being written by pid {owner['pid']} ({owner.get('purpose', 'analyze')} since {owner.get('since', 'unknown')}); wait for it to end, or stop it"
                    ) from None
                # Stale (a dead pid) or unreadable: take it over; removed, never followed.
                self.recovered = owner
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            try:
                os.write(fd, json.dumps(me).encode("utf-8"))
            finally:
                os.close(fd)
            self._held = True
            return
        raise AnalysisWriteError(f"{self.path}: could not take the lock (it keeps reappearing)")

    def release(self) -> None:
        if not getattr(self, "_held", False):
            return
        self._held = False
        owner = _lock_owner(self.path)
        if owner is not None and owner.get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
