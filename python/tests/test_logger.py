"""The logger writes run folders as docs/run-format.md says: files, NaN as null, namespaced names,
atomic writes, statuses, step 0, the checkpoint stats, and an import that refuses pickles."""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
from typing import Dict, List

import pytest
import torch

import learning_mechanics as lm
from learning_mechanics import tensorfile
from learning_mechanics.__main__ import main as cli_main

PACKAGE_ROOT = os.path.join(os.path.dirname(__file__), "..")


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> float:
    x = torch.linspace(-1, 1, 24).reshape(8, 3)
    y = torch.stack([x.sum(1), x[:, 0] - x[:, 2]], 1)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        loss = torch.mean((model(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def _manifest(run_dir: str) -> Dict[str, object]:
    with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
        return json.load(f)


def _metrics(run_dir: str) -> List[Dict[str, object]]:
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        text = f.read()
    assert text == "" or text.endswith("\n")
    # Strict JSON: a NaN token would be a bad line for a strict reader.
    return [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON token {c}")) for line in text.splitlines()]


def _checkpoint(run_dir: str, step: int):
    return tensorfile.read(os.path.join(run_dir, "checkpoints", f"step-{step:08d}.safetensors"))


def _all_files(run_dir: str) -> List[str]:
    return sorted(os.path.relpath(os.path.join(d, n), run_dir) for d, _, names in os.walk(run_dir) for n in names)


def test_a_run_writes_the_format(tmp_path) -> None:
    model = _mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    with lm.init(name="mlp", config={"lr": 0.05, "layers": [3, 5, 2], "act": torch.tanh}, root=str(tmp_path), model=model, optimizer=opt) as run:
        for step in range(1, 7):
            loss = _train(model, opt, 1)
            run.log({"loss/train": loss, "acc/test": torch.tensor(0.5), "train_loss": loss}, step=step)
            if step % 3 == 0:
                run.checkpoint(model, opt, step=step)
    m = _manifest(run.dir)
    assert os.path.dirname(run.dir) == str(tmp_path) and os.path.basename(run.dir).startswith("mlp-")
    assert m["format"] == "learning-mechanics/run" and m["formatVersion"] == 1
    assert m["status"] == "finished" and m["step"] == 6 and m["totalSteps"] == 6 and "endedAt" in m
    assert m["pid"] == os.getpid()
    assert m["config"] == {"lr": 0.05, "layers": [3, 5, 2], "act": "tanh"}
    assert m["backend"]["name"] == "pytorch" and isinstance(m["backend"]["reason"], str)
    assert m["experiment"]["path"] == os.path.abspath(sys.modules["__main__"].__file__ or sys.argv[0])
    assert m["experiment"]["sha256"].startswith("sha256:") and len(m["experiment"]["sha256"]) == 7 + 64
    assert _all_files(run.dir) == ["checkpoints/step-00000000.safetensors", "checkpoints/step-00000003.safetensors", "checkpoints/step-00000006.safetensors", "metrics.jsonl", "run.json"]
    rows = _metrics(run.dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert set(rows[0]) == {"step", "time", "loss/train", "acc/test", "train_loss"}
    assert rows[0]["acc/test"] == 0.5
    tensors, meta = _checkpoint(run.dir, 6)
    assert meta["format"] == "learning-mechanics/checkpoint" and meta["step"] == "6" and meta["layout"] == "pytorch"
    assert json.loads(meta["params"]) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert tensors["0.weight"].shape == (5, 3)  # as PyTorch holds it, [out, in]
    assert torch.equal(tensors["2.bias"], model[2].bias.detach())
    optimizer = json.loads(meta["optimizer"])
    assert optimizer["t"] == 6 and optimizer["class"] == "AdamW"
    assert torch.equal(tensors["optimizer/m/0.weight"], opt.state[model[0].weight]["exp_avg"])
    assert torch.equal(tensors["optimizer/v/2.bias"], opt.state[model[2].bias]["exp_avg_sq"])
    t0, meta0 = _checkpoint(run.dir, 0)
    assert json.loads(meta0["optimizer"])["t"] == 0 and "initial" not in meta0


def test_non_finite_values_are_null_and_names_are_kept(tmp_path) -> None:
    np = pytest.importorskip("numpy")

    run = lm.init(name="nan", run_dir=str(tmp_path / "r"))
    run.log({"loss/train": float("nan"), "grad/norm": float("inf"), "x": -math.inf, "np": np.float32(2.5), "n": np.int64(3), "ok": True})
    run.log({"loss/train": torch.tensor([1.25])})
    run.finish()
    rows = _metrics(run.dir)
    assert [r["step"] for r in rows] == [0, 1]  # without step=: 0, then one more each time
    assert rows[0]["loss/train"] is None and rows[0]["grad/norm"] is None and rows[0]["x"] is None
    assert rows[0]["np"] == 2.5 and rows[0]["n"] == 3 and rows[0]["ok"] == 1
    assert rows[1]["loss/train"] == 1.25


def test_user_mistakes_are_named(tmp_path) -> None:
    run = lm.init(name="m", run_dir=str(tmp_path / "r"))
    with pytest.raises(lm.LoggerError, match="shape \\[2\\]; log scalars"):
        run.log({"w": torch.zeros(2)})
    with pytest.raises(lm.LoggerError, match="'s' is str, not a number"):
        run.log({"s": "high"})
    with pytest.raises(lm.LoggerError, match='"step" is written by the logger'):
        run.log({"step": 3})
    with pytest.raises(lm.LoggerError, match="whole number"):
        run.log({"a": 1}, step=-1)
    with pytest.raises(lm.LoggerError, match="already holds a run"):
        lm.init(name="again", run_dir=str(tmp_path / "r"))
    run.finish()
    with pytest.raises(lm.LoggerError, match="has ended"):
        run.log({"a": 1})
    assert _metrics(run.dir) == []  # nothing half-written by the refused calls


def test_writes_leave_no_temporary_files(tmp_path) -> None:
    model = _mlp()
    with lm.init(name="tmp", run_dir=str(tmp_path / "r"), model=model) as run:
        for step in range(1, 4):
            run.log({"a": step}, step=step)
            run.checkpoint(model, step=step)
    assert not [f for f in _all_files(run.dir) if f.endswith(".tmp") or os.path.basename(f).startswith(".")]


def test_an_exception_marks_the_run_failed_at_its_line(tmp_path) -> None:
    with pytest.raises(ZeroDivisionError):
        with lm.init(name="boom", run_dir=str(tmp_path / "r")) as run:
            run.log({"a": 1.0}, step=1)
            1 / 0  # noqa: B018
    m = _manifest(run.dir)
    assert m["status"] == "failed" and m["step"] == 1
    assert m["error"]["message"] == "ZeroDivisionError: division by zero"
    loc = m["error"]["location"]
    assert loc["file"] == os.path.abspath(__file__) and isinstance(loc["line"], int) and loc["column"] >= 1


def test_ctrl_c_writes_a_final_checkpoint_and_stops(tmp_path) -> None:
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(KeyboardInterrupt):
        with lm.init(name="stop", run_dir=str(tmp_path / "r")) as run:
            run.checkpoint(model, opt, step=0)
            for step in range(1, 100):
                _train(model, opt, 1)
                run.log({"a": step}, step=step)
                if step == 7:
                    raise KeyboardInterrupt
    assert _manifest(run.dir)["status"] == "stopped"
    tensors, meta = _checkpoint(run.dir, 7)
    assert torch.equal(tensors["0.weight"], model[0].weight.detach())
    assert "optimizer/momentum/0.weight" in tensors and json.loads(meta["optimizer"])["t"] == 0  # SGD keeps no step count


def test_sigterm_stops_a_script_like_ctrl_c(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import sys, time, torch, learning_mechanics as lm\n"
        "m = torch.nn.Linear(2, 2)\n"
        "with lm.init(name='t', run_dir=sys.argv[1], model=m) as run:\n"
        "    for step in range(1, 10**6):\n"
        "        run.log({'a': step}, step=step)\n"
        "        if step == 3: print('ready', flush=True)\n"
        "        time.sleep(0.01)\n"
    )
    run_dir = str(tmp_path / "r")
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    p = subprocess.Popen([sys.executable, str(script), run_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    m = _manifest(run_dir)
    assert m["status"] == "stopped" and m["experiment"]["path"] == str(script)
    assert os.path.exists(os.path.join(run_dir, "checkpoints", f"step-{m['step']:08d}.safetensors"))


def test_no_signal_handler_outside_the_main_thread(tmp_path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: List[object] = []

    def work() -> None:
        with lm.init(name="th", run_dir=str(tmp_path / "r")) as run:
            seen.append(signal.getsignal(signal.SIGTERM))
            run.log({"a": 1})

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [before] and _manifest(str(tmp_path / "r"))["status"] == "finished"
    with lm.init(name="main", run_dir=str(tmp_path / "m")):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before  # restored


def test_step_zero_is_the_first_checkpoint_when_not_given(tmp_path) -> None:
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt, 4)
    run = lm.init(name="late", run_dir=str(tmp_path / "r"))
    run.checkpoint(model, opt, step=4)
    first = {n: p.detach().clone() for n, p in model.state_dict().items()}
    _train(model, opt, 4)
    run.checkpoint(model, opt, step=8)
    run.finish()
    t0, meta0 = _checkpoint(run.dir, 0)
    assert meta0["initial"] == "first-checkpoint" and "optimizer" not in meta0
    assert not [n for n in t0 if n.startswith("optimizer/")]
    assert all(torch.equal(t0[n], first[n]) for n in first)
    stats4 = json.loads(_checkpoint(run.dir, 4)[1]["stats"])
    assert all(s["relChange"] == 0 for s in stats4.values())


def test_stats_equal_a_hand_computation(tmp_path) -> None:
    w0 = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # ‖W₀‖ = 5
    run = lm.init(name="stats", run_dir=str(tmp_path / "r"))
    run.checkpoint({"w": w0, "zero": torch.zeros(3), "nan": torch.tensor([1.0])}, step=0)
    w = torch.tensor([[3.0, 0.0], [1.2, 2.4]])  # W − W₀ = [[0, 0], [1.2, −1.6]]: ‖·‖ = 2
    run.checkpoint({"w": w, "zero": torch.ones(3), "nan": torch.tensor([math.nan])}, step=5)
    run.finish()
    stats0 = json.loads(_checkpoint(run.dir, 0)[1]["stats"])
    assert stats0["w"] == {"norm": 5.0, "relChange": 0.0}
    stats = json.loads(_checkpoint(run.dir, 5)[1]["stats"])
    assert stats["w"]["norm"] == pytest.approx(math.sqrt(9 + 1.44 + 5.76), rel=1e-7)
    assert stats["w"]["relChange"] == pytest.approx(2 / 5, rel=1e-7)
    assert stats["zero"] == {"norm": pytest.approx(math.sqrt(3)), "relChange": None}  # ‖W₀‖ = 0
    assert stats["nan"] == {"norm": None, "relChange": None}  # non-finite → null


def test_import_a_state_dict_and_a_wrapped_one(tmp_path) -> None:
    model = _mlp()
    torch.save(model.state_dict(), tmp_path / "init.pt")
    with torch.no_grad():
        model[0].weight.add_(1.0)
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "later.pth")
    run_dir = str(tmp_path / "run")
    assert cli_main(["import", str(tmp_path / "init.pt"), "--run-dir", run_dir]) == 0
    assert cli_main(["import", str(tmp_path / "later.pth"), "--run-dir", run_dir, "--step", "100"]) == 0
    m = _manifest(run_dir)
    assert m["status"] == "finished" and m["step"] == 100 and m["experiment"]["path"] == str(tmp_path / "init.pt")
    tensors, meta = _checkpoint(run_dir, 100)
    assert torch.equal(tensors["0.weight"], model[0].weight.detach())
    stats = json.loads(meta["stats"])
    assert stats["0.bias"]["relChange"] == 0 and stats["0.weight"]["relChange"] > 0


class _Evil:
    """Unpickling this would create a file: the import must never get that far."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_import_refuses_a_pickle_and_runs_nothing(tmp_path, capsys) -> None:
    marker = str(tmp_path / "pwned")
    bad = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": _Evil(marker)}, bad)
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump(_Evil(marker), f)
    assert not os.path.exists(marker)
    for path in (bad, tmp_path / "plain.pkl"):
        assert cli_main(["import", str(path), "--run-dir", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert "refused and nothing in it ran" in err and "Traceback" not in err
    assert not os.path.exists(marker)
    assert not os.path.exists(tmp_path / "run")


def test_import_refuses_non_tensor_entries(tmp_path, capsys) -> None:
    torch.save({"weight": torch.zeros(2), "epoch": 3}, tmp_path / "mixed.pt")
    assert cli_main(["import", str(tmp_path / "mixed.pt"), "--run-dir", str(tmp_path / "run")]) == 2
    assert "1 entries are not tensors ('epoch')" in capsys.readouterr().err


def test_import_through_python_dash_m(tmp_path) -> None:
    torch.save(_mlp().state_dict(), tmp_path / "w.pt")
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    r = subprocess.run([sys.executable, "-m", "learning_mechanics", "import", str(tmp_path / "w.pt"), "--run-dir", str(tmp_path / "run"), "--step", "0"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("step-00000000.safetensors")


def test_the_script_in_docs_pytorch_md_runs(tmp_path) -> None:
    """The page's script, as printed, with fewer steps (500: one checkpoint after step 0)."""
    import re

    with open(os.path.join(PACKAGE_ROOT, "..", "docs", "pytorch.md"), encoding="utf-8") as f:
        doc = f.read()
    block = re.search(r"## A complete script.*?```python\n(.*?)```", doc, re.S)
    assert block is not None, "no python block after '## A complete script'"
    script = block.group(1)
    assert "steps = 2000\n" in script
    (tmp_path / "train_mlp.py").write_text(script.replace("steps = 2000\n", "steps = 500\n"))
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-W", "error", "train_mlp.py"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    run_dir = r.stdout.strip()
    assert os.path.dirname(run_dir) == str(tmp_path / "runs")
    m = _manifest(run_dir)
    assert m["status"] == "finished" and m["step"] == 500 and m["experiment"]["path"] == str(tmp_path / "train_mlp.py")
    rows = _metrics(run_dir)
    assert len(rows) == 500 and set(rows[99]) == {"step", "time", "loss/batch", "grad/norm", "train_loss", "train_acc", "test_loss", "test_acc"}
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == ["step-00000000.safetensors", "step-00000500.safetensors"]
