"""The logger's writer lock is the TypeScript trainer's (src/shared/runLock.ts): `<run>/.lock`, O_EXCL,
the owner's pid/purpose/since as JSON, a dead owner's lock taken over, a live one refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import learning_mechanics as lm
from learning_mechanics import extension, runlock


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_acquire_writes_the_owner_and_release_removes_it(tmp_path) -> None:
    lock = runlock.acquire(str(tmp_path), runlock.TRAINER_LOCK, "train")
    path = tmp_path / ".lock"
    owner = json.loads(path.read_text())
    assert owner["pid"] == os.getpid() and owner["purpose"] == "train" and owner["since"].endswith("Z")
    with pytest.raises(runlock.RunLockedError, match=rf"run folder in use by pid {os.getpid()} \(train since"):
        runlock.acquire(str(tmp_path), runlock.TRAINER_LOCK, "resume")
    lock.release()
    assert not path.exists()
    lock.release()  # twice is harmless


def test_a_live_owner_is_refused_a_dead_or_unreadable_one_taken_over(tmp_path) -> None:
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": 1, "purpose": "train", "since": "2026-01-01T00:00:00.000Z"}))
    with pytest.raises(runlock.RunLockedError, match="in use by pid 1"):
        runlock.acquire(str(tmp_path))
    dead = _dead_pid()
    path.write_text(json.dumps({"pid": dead, "purpose": "resume", "since": "s"}))
    lock = runlock.acquire(str(tmp_path))
    assert lock.recovered == {"pid": dead, "purpose": "resume", "since": "s"}
    lock.release()
    path.write_text('{"pid": ')  # a write cut short
    runlock.acquire(str(tmp_path)).release()


def test_a_symlink_planted_as_the_lock_is_removed_not_followed(tmp_path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    os.symlink(target, tmp_path / ".lock")
    lock = runlock.acquire(str(tmp_path))
    assert target.read_text() == "keep me"
    assert not os.path.islink(tmp_path / ".lock")
    lock.release()


def test_the_logger_holds_the_lock_while_the_run_is_open(tmp_path) -> None:
    run = lm.init(name="locked", run_dir=str(tmp_path / "r"))
    lock_path = tmp_path / "r" / ".lock"
    assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    run.log({"loss": 1.0}, step=1)
    run.finish()
    assert not lock_path.exists()


def test_a_run_another_live_process_writes_is_refused(tmp_path) -> None:
    run_dir = tmp_path / "r"
    run = lm.init(name="first", run_dir=str(run_dir))
    run.finish()
    (run_dir / ".lock").write_text(json.dumps({"pid": 1, "purpose": "train", "since": "x"}))
    with pytest.raises(lm.LoggerError, match=r"in use by pid 1 .*another process writes this run"):
        lm.Run.reopen(str(run_dir))
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished", "the refused reopen wrote nothing"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".lock").write_text(json.dumps({"pid": 1, "purpose": "resume", "since": "x"}))
    with pytest.raises(lm.LoggerError, match="in use by pid 1"):
        lm.init(name="second", run_dir=str(fresh))
    assert not (fresh / "run.json").exists()


def test_protocol_mode_needs_a_pipe_and_hides_its_variables_from_subprocesses(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(extension, "_looked", False)
    monkeypatch.setattr(extension, "_channel", None)
    with open(tmp_path / "f", "w") as f:  # a regular file's descriptor is not the extension's pipe
        monkeypatch.setenv("LM_PROTOCOL", "1")
        monkeypatch.setenv("LM_PROTOCOL_FD", str(f.fileno()))
        monkeypatch.setenv("LM_RUNS_ROOT", str(tmp_path))
        assert extension.channel() is None
    assert "LM_PROTOCOL_FD" not in os.environ and "LM_RUNS_ROOT" not in os.environ
    monkeypatch.setattr(extension, "_looked", False)
    r, w = os.pipe()
    try:
        monkeypatch.setenv("LM_PROTOCOL", "1")
        monkeypatch.setenv("LM_PROTOCOL_FD", str(w))
        monkeypatch.setenv("LM_RUNS_ROOT", str(tmp_path / "runs"))
        ch = extension.channel()
        assert ch is not None and ch.runs_root == str(tmp_path / "runs")
        ch.send({"type": "log", "level": "info", "message": "x"})
        assert os.read(r, 1000) == b'{"type":"log","level":"info","message":"x"}\n'
    finally:
        os.close(r)
        os.close(w)
        monkeypatch.setattr(extension, "_looked", False)
        monkeypatch.setattr(extension, "_channel", None)
