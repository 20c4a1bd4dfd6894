"""The worker end to end as a subprocess, speaking the protocol on stdio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest
import torch

from learning_mechanics import tensorfile
from learning_mechanics.models import build_model
from learning_mechanics.protocol import PROTOCOL_VERSION

PKG_ROOT = os.path.join(os.path.dirname(__file__), "..")


def system(**kw: Any) -> Dict[str, Any]:
    s: Dict[str, Any] = {
        "model": {"kind": "mlp", "embed": "onehot", "hidden": [16], "activation": "relu", "initScale": 1.0, "alpha": 1.0, "centered": False, "bias": True},
        "optimizer": {"kind": "adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0, "schedule": {"warmupSteps": 0, "decay": "constant", "minLrFraction": 0}},
        "input": {"kind": "tokens", "vocab": 5, "length": 2},
        "output": {"kind": "classes", "count": 5},
        "steps": 30,
        "batchSize": "full",
        "evalEvery": 10,
        "checkpointEvery": 15,
        "seed": 3,
    }
    s.update(kw)
    return s


def write_inputs(tmp: str, sys_: Dict[str, Any]) -> str:
    torch.manual_seed(0)
    model = build_model(sys_["model"], sys_["input"], sys_["output"])
    sys_["params"] = [{"name": n, "shape": list(p.shape)} for n, p in model.named_parameters()]
    a = torch.arange(5).repeat_interleave(5)
    b = torch.arange(5).repeat(5)
    x = torch.stack([a, b], 1).to(torch.int32)
    y = ((a + b) % 5).to(torch.int32)
    tensors = {"data/train.x": x[:18], "data/train.y": y[:18], "data/test.x": x[18:], "data/test.y": y[18:]}
    tensors.update({f"param/{n}": p.detach() for n, p in model.named_parameters()})
    path = os.path.join(tmp, "inputs.safetensors")
    tensorfile.write(path, tensors)
    return path


FINAL = {"finished", "diverged", "error"}


def converse(lines: List[str], close_after_send: bool = False) -> List[Dict[str, Any]]:
    """Runs the worker, sends `lines`, and reads events until a final one (stdin stays open until
    then, as the trainer keeps it: its end means "stop, nobody is listening")."""
    env = {**os.environ, "PYTHONPATH": PKG_ROOT}
    p = subprocess.Popen([sys.executable, "-m", "learning_mechanics.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdin is not None and p.stdout is not None
    for line in lines:
        p.stdin.write(line + "\n")
    p.stdin.flush()
    if close_after_send:
        p.stdin.close()
    events: List[Dict[str, Any]] = []
    for line in p.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] in FINAL:
            break
    if not p.stdin.closed:
        p.stdin.close()
    p.wait(timeout=60)
    assert events and events[0]["type"] == "hello" and events[0]["protocol"] == PROTOCOL_VERSION, p.stderr.read() if p.stderr else ""
    return events


def start_line(tmp: str, sys_: Dict[str, Any], device: str = "cpu", path: Optional[str] = None) -> str:
    path = path or write_inputs(tmp, sys_)
    return json.dumps({"type": "start", "protocol": PROTOCOL_VERSION, "system": sys_, "tensorsFile": path, "exchangeDir": tmp, "device": device, "threads": 1, "fromStep": 0, "optimizerT": 0})


def run_worker(tmp: str, sys_: Dict[str, Any], device: str = "cpu", extra: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    return converse([start_line(tmp, sys_, device)] + (extra or []))


def test_trains_and_hands_back_checkpoints(tmp_path: Any) -> None:
    events = run_worker(str(tmp_path), system())
    types = [e["type"] for e in events]
    assert types[1] == "ready" and types[-1] == "finished"
    assert events[-1] == {"type": "finished", "status": "finished", "step": 30}
    assert [e["step"] for e in events if e["type"] == "metrics"] == [0, 10, 15, 20, 30]
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [0, 15, 30]
    m0 = next(e for e in events if e["type"] == "metrics")["values"]
    assert sorted(m0) == ["lr", "param_norm", "test_acc", "test_loss", "train_acc", "train_loss"]
    last = [e for e in events if e["type"] == "metrics"][-1]["values"]
    assert last["train_loss"] < m0["train_loss"]
    ck = [e for e in events if e["type"] == "checkpoint"][-1]
    assert ck["optimizerT"] == 30
    tensors, meta = tensorfile.read(ck["file"])
    assert meta == {"step": "30", "optimizer_t": "30"}
    assert sorted(tensors) == sorted(
        [f"param/{n}" for n in ["layers.0.weight", "layers.0.bias", "out.weight", "out.bias"]]
        + [f"optimizer/{s}/{n}" for s in ["m", "v"] for n in ["layers.0.weight", "layers.0.bias", "out.weight", "out.bias"]]
    )


def test_same_seed_same_parameters_on_cpu(tmp_path: Any) -> None:
    finals = []
    for k in range(2):
        d = tmp_path / str(k)
        d.mkdir()
        events = run_worker(str(d), system(batchSize=4))
        finals.append(tensorfile.read([e for e in events if e["type"] == "checkpoint"][-1]["file"])[0])
    assert finals[0].keys() == finals[1].keys()
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k


def test_stop_finishes_the_step_and_checkpoints(tmp_path: Any) -> None:
    # `stop` is read on a thread while training; sent right after start, it stops at the first step.
    events = run_worker(str(tmp_path), system(steps=100000), extra=[json.dumps({"type": "stop"})])
    fin = events[-1]
    assert fin["type"] == "finished" and fin["status"] == "stopped" and fin["step"] < 100000
    ck = [e for e in events if e["type"] == "checkpoint"][-1]
    assert ck["step"] == fin["step"]


def test_divergence_is_reported_with_its_step(tmp_path: Any) -> None:
    sgd = {"kind": "sgd", "lr": 1e30, "momentum": 0, "nesterov": False, "weightDecay": 0, "schedule": {"warmupSteps": 0, "decay": "constant", "minLrFraction": 0}}
    events = run_worker(str(tmp_path), system(optimizer=sgd, model={**system()["model"], "initScale": 10.0}))
    last = events[-1]
    assert last["type"] == "diverged", events
    assert isinstance(last["step"], int) and last["step"] >= 0
    assert "non-finite" in last["reason"] or "became" in last["reason"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path: Any) -> None:
    events = run_worker(str(tmp_path), system(), device="cuda")
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "device"
    assert "device cuda" in events[-1]["message"] and "--device cpu" in events[-1]["message"]
    assert not any(e["type"] == "checkpoint" for e in events)


def test_bad_device_index(tmp_path: Any) -> None:
    events = run_worker(str(tmp_path), system(), device="tpu")
    assert events[-1] == {"type": "error", "kind": "device", "message": "unknown device 'tpu': expected cpu, cuda, cuda:N or mps"}


def test_parameter_mismatch_names_both_sides(tmp_path: Any) -> None:
    s = system()
    path = write_inputs(str(tmp_path), s)
    s["params"] = [{"name": "layers.0.weight", "shape": [10, 99]}, *s["params"][1:]]
    last = converse([start_line(str(tmp_path), s, path=path)])[-1]
    assert last == {"type": "error", "kind": "spec", "message": 'parameter "layers.0.weight": the PyTorch model has shape [10, 16], the trainer sent [10, 99]'}


def test_protocol_version_mismatch(tmp_path: Any) -> None:
    last = converse([json.dumps({"type": "start", "protocol": 99})])[-1]
    assert last["type"] == "error" and last["kind"] == "protocol" and "worker protocol 99" in last["message"]


def test_eof_stops_without_a_final_checkpoint(tmp_path: Any) -> None:
    # stdin closed right after start: the trainer is gone, so the worker stops and writes nothing more.
    events = converse([start_line(str(tmp_path), system(steps=100000))], close_after_send=True)
    assert not any(e["type"] == "finished" for e in events)
    assert all(e["step"] == 0 for e in events if e["type"] == "checkpoint")


def test_eof_before_start_exits_quietly() -> None:
    p = subprocess.run([sys.executable, "-m", "learning_mechanics.worker"], input="", capture_output=True, text=True, env={**os.environ, "PYTHONPATH": PKG_ROOT}, timeout=60)
    assert p.returncode == 0
    assert [json.loads(l)["type"] for l in p.stdout.splitlines()] == ["hello"]


def test_resume_equals_uninterrupted(tmp_path: Any) -> None:
    """Stop at a checkpoint, start a new worker from it (parameters, optimizer state, step 0's
    parameters for the centring): the same final parameters, bit for bit, with minibatches."""
    s = system(batchSize=4, model={**system()["model"], "alpha": 2.0, "centered": True},
               optimizer={**system()["optimizer"], "schedule": {"warmupSteps": 5, "decay": "cosine", "minLrFraction": 0.1}})
    whole = tmp_path / "whole"
    whole.mkdir()
    events = run_worker(str(whole), s)
    ckpts = {e["step"]: e["file"] for e in events if e["type"] == "checkpoint"}
    assert sorted(ckpts) == [0, 15, 30]

    mid, _ = tensorfile.read(ckpts[15])
    start, _ = tensorfile.read(str(whole / "inputs.safetensors"))
    resumed_inputs = {k: v for k, v in start.items() if k.startswith("data/")}
    resumed_inputs.update({k: v for k, v in mid.items()})  # param/ and optimizer/
    resumed_inputs.update({"init/" + k[len("param/"):]: v for k, v in start.items() if k.startswith("param/")})
    part = tmp_path / "part"
    part.mkdir()
    path = str(part / "resume.safetensors")
    tensorfile.write(path, resumed_inputs)
    req = json.loads(start_line(str(part), s, path=path))
    req.update(fromStep=15, optimizerT=15)
    resumed = converse([json.dumps(req)])
    assert resumed[-1] == {"type": "finished", "status": "finished", "step": 30}
    assert [e["step"] for e in resumed if e["type"] == "metrics"] == [20, 30]
    final_whole, _ = tensorfile.read(ckpts[30])
    final_resumed, _ = tensorfile.read([e for e in resumed if e["type"] == "checkpoint"][-1]["file"])
    assert final_whole.keys() == final_resumed.keys()
    for k in final_whole:
        assert torch.equal(final_whole[k], final_resumed[k]), k
    # And the metrics at the last step agree exactly (same centring offsets, same data).
    last = lambda evs: [e for e in evs if e["type"] == "metrics"][-1]["values"]  # noqa: E731
    assert last(events) == last(resumed)


def test_masked_weights_and_moments_stay_exactly_zero_with_adamw(tmp_path: Any) -> None:
    """A mask/ tensor: the masked weights, which start non-zero here (the worker zeroes them
    itself), and their Adam moments are exactly 0 at every checkpoint; the kept weights train."""
    tmp = str(tmp_path)
    sys_ = system(optimizer={**system()["optimizer"], "kind": "adamw", "weightDecay": 0.1})
    path = write_inputs(tmp, sys_)
    tensors, _ = tensorfile.read(path)
    g = torch.Generator().manual_seed(1)
    mask = (torch.rand(tensors["param/out.weight"].shape, generator=g) < 0.5).to(torch.float32)
    tensors["mask/out.weight"] = mask
    tensorfile.write(path, tensors)
    events = converse([start_line(tmp, sys_, path=path)])
    assert events[-1]["type"] == "finished", events[-1]
    checkpoints = [tensorfile.read(e["file"])[0] for e in events if e["type"] == "checkpoint"]
    assert len(checkpoints) == 3
    for ck in checkpoints:
        for name in ("param/out.weight", "optimizer/m/out.weight", "optimizer/v/out.weight"):
            assert torch.count_nonzero(ck[name][mask == 0]) == 0, name
    first, last = checkpoints[0]["param/out.weight"], checkpoints[-1]["param/out.weight"]
    assert not torch.equal(first[mask == 1], last[mask == 1])


def test_a_mask_naming_no_parameter_is_a_data_error(tmp_path: Any) -> None:
    tmp = str(tmp_path)
    sys_ = system()
    path = write_inputs(tmp, sys_)
    tensors, _ = tensorfile.read(path)
    tensors["mask/nope.weight"] = torch.ones(2, 2)
    tensorfile.write(path, tensors)
    events = converse([start_line(tmp, sys_, path=path)])
    assert events[-1]["type"] == "error" and events[-1]["kind"] == "data"
    assert 'mask "nope.weight" names no parameter of this model' in events[-1]["message"]
