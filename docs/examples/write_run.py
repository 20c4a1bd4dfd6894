"""Writes a Learning Mechanics run folder from plain Python + numpy (no safetensors package).

Usage: python3 write_run.py RUN_DIR
Trains y = x·W + b (W stored [in, out]) by gradient descent with momentum on a fixed dataset,
logging metrics every 10 steps and checkpointing every 50 (step 0 included).
"""
import datetime, hashlib, json, math, os, pathlib, struct, sys, time
import numpy as np


def write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: readers never see a partial file


def write_safetensors(path, tensors, metadata):
    """tensors: {name: array}; all stored as little-endian float32, in name order."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # pad the header to a multiple of 8 bytes
    write_atomic(path, struct.pack("<Q", len(h)) + h + b"".join(blobs))


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


run_dir = sys.argv[1]
os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
seed, total_steps, lr, beta = 0, 200, 0.05, 0.9
i = np.arange(64)[:, None]
x = np.sin(0.37 * i * np.arange(1, 4)).astype(np.float32)          # inputs [64, 3]
w_true = np.array([[1.0, -2.0], [0.5, 0.0], [-1.5, 1.0]], np.float32)
y = x @ w_true + np.array([0.3, -0.7], np.float32) + 0.2 * np.cos(1.3 * i).astype(np.float32)  # targets [64, 2]
rng = np.random.default_rng(seed)
params = {"layers.0.weight": (0.1 * rng.standard_normal((3, 2))).astype(np.float32),  # [in, out]
          "layers.0.bias": np.zeros(2, np.float32)}
order = ["layers.0.weight", "layers.0.bias"]
momentum = {name: np.zeros_like(p) for name, p in params.items()}

started = now()
manifest = {
    "format": "learning-mechanics/run", "formatVersion": 1,
    "id": "linreg-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(2).hex(),
    "system": "linreg",
    "experiment": {"path": os.path.abspath(__file__),
                   "sha256": "sha256:" + hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()},
    "config": {"lr": lr, "momentum": beta, "steps": total_steps},
    "seed": seed, "backend": {"name": "numpy", "reason": "plain numpy script", "versions": {"numpy": np.__version__}},
    "status": "running", "startedAt": started, "updatedAt": started,
    "totalSteps": total_steps, "step": 0, "producer": "write_run.py",
}
write_atomic(os.path.join(run_dir, "run.json"), json.dumps(manifest, indent=2).encode())
t0 = time.monotonic()

for step in range(total_steps + 1):  # params after `step` updates
    err = x @ params["layers.0.weight"] + params["layers.0.bias"] - y
    loss = float(np.mean(err ** 2))
    if step % 10 == 0:
        norm = math.sqrt(sum(float(np.sum(p.astype(np.float64) ** 2)) for p in params.values()))
        rec = {"step": step, "time": time.monotonic() - t0, "train_loss": loss, "lr": lr, "param_norm": norm}
        rec = {k: (v if math.isfinite(v) else None) for k, v in rec.items()}  # NaN/Inf -> null
        with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")  # one write per line
    if step % 50 == 0 or step == total_steps:
        tensors = dict(params)
        tensors.update({"optimizer/momentum/" + name: m for name, m in momentum.items()})
        meta = {"format": "learning-mechanics/checkpoint", "format_version": "1", "step": str(step),
                "params": json.dumps(order), "optimizer": json.dumps({"t": step})}
        write_safetensors(os.path.join(run_dir, "checkpoints", f"step-{step:08d}.safetensors"), tensors, meta)
    if step == total_steps:
        break
    grads = {"layers.0.weight": 2 * x.T @ err / err.size, "layers.0.bias": 2 * err.sum(0) / err.size}
    for name in order:
        momentum[name] = beta * momentum[name] + grads[name]
        params[name] = (params[name] - lr * momentum[name]).astype(np.float32)

manifest.update(status="finished", step=total_steps, updatedAt=now(), endedAt=now())
write_atomic(os.path.join(run_dir, "run.json"), json.dumps(manifest, indent=2).encode())
