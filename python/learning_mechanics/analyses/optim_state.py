"""What the sharpness and conservation analyses need to know of the optimizer at a checkpoint, from
what the run folder holds (so `analyze` afterwards reads what `run.watch` read live):

- a built-in system's run.json `config.optimizer` (kind, lr, schedule, betas, eps, weightDecay,
  momentum, nesterov), as src/trainer/analyzer/conservationAnalysis.ts and sharpnessAnalysis.ts
  read it;
- else the checkpoint's `optimizer` metadata written by the Python logger (`class`, `t`, the
  param groups: lr, betas, eps, weight_decay, momentum, nesterov) and its Adam second moments
  `optimizer/v/<parameter>`.

The stability threshold and the learning-rate schedule are src/measures/sharpness.ts
`stabilityThreshold` and src/trainer/optimizers.ts `scheduledLr`.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

Obj = Dict[str, Any]


def _num(o: Mapping[str, Any], key: str, fallback: float) -> float:
    v = o.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else fallback


def scheduled_lr(base: float, schedule: Mapping[str, Any], t: int, total: int) -> float:
    """`scheduledLr` of src/trainer/optimizers.ts: η of update t (1-based)."""
    warmup = _num(schedule, "warmupSteps", 0)
    decay = schedule.get("decay") if schedule.get("decay") in ("cosine", "linear") else "constant"
    if warmup > 0 and t <= warmup:
        return base * t / warmup
    if decay == "constant":
        return base
    span = max(1.0, total - warmup)
    progress = min(1.0, max(0.0, (t - warmup) / span))
    floor = base * _num(schedule, "minLrFraction", 0)
    if decay == "linear":
        return floor + (base - floor) * (1 - progress)
    return floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2


@dataclass
class OptimizerInfo:
    """The optimizer as the analyses need it. `kind`: "sgd", "adam" (coupled L2), "adamw" (decoupled)."""

    kind: str
    #: η of update j (1-based), exact for a built-in schedule, constant for a PyTorch run.
    lr_at: Any
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: Tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    #: Where η and λ came from, in words (the conservation record's `law`).
    source: str = ""


@dataclass
class NoOptimizer:
    why: str


Optimization = Union[OptimizerInfo, NoOptimizer]


def built_in(config: Any, total_steps: int) -> Optional[OptimizerInfo]:
    """A built-in system's optimizer (run.json config with `model` and `optimizer`), with its exact schedule."""
    if not (isinstance(config, dict) and isinstance(config.get("model"), dict) and isinstance(config.get("optimizer"), dict)):
        return None
    opt = config["optimizer"]
    lr, schedule, kind = opt.get("lr"), opt.get("schedule"), opt.get("kind")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not isinstance(schedule, dict):
        return None
    lr_at = lambda j: scheduled_lr(float(lr), schedule, j, total_steps)  # noqa: E731
    source = "run.json config.optimizer with its schedule"
    wd = _num(opt, "weightDecay", 0)
    if kind == "sgd":
        return OptimizerInfo("sgd", lr_at, wd, _num(opt, "momentum", 0), opt.get("nesterov") is True, source=source)
    if kind in ("adam", "adamw"):
        betas = opt.get("betas") if isinstance(opt.get("betas"), list) and len(opt["betas"]) == 2 else [0.9, 0.999]
        return OptimizerInfo(kind, lr_at, wd, betas=(float(betas[0]), float(betas[1])), eps=_num(opt, "eps", 1e-8), source=source)
    return None


def from_metadata(meta: Any) -> Optimization:
    """A PyTorch run's optimizer from a checkpoint's `optimizer` metadata ({class, t, groups}), η
    and λ constant since the reference (conservationAnalysis.ts `torchOptimization`)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("groups"), list) or not meta["groups"] or not isinstance(meta["groups"][0], dict):
        return NoOptimizer("the checkpoint has no optimizer metadata (class and param_groups)")
    groups = [g for g in meta["groups"] if isinstance(g, dict)]
    g = groups[0]
    if not all(x.get("lr") == g.get("lr") and x.get("weight_decay") == g.get("weight_decay") for x in groups):
        return NoOptimizer("the optimizer's param groups have different lr or weight_decay, which the checkpoint does not map to tensors")
    lr = _num(g, "lr", math.nan)
    wd = _num(g, "weight_decay", 0)
    cls = str(meta.get("class") or "")
    if not math.isfinite(lr):
        return NoOptimizer("the optimizer metadata has no lr")
    source = f"the checkpoint's optimizer metadata ({cls}: lr {_js_number(lr)}, weight_decay {_js_number(wd)}, taken as constant)"
    lr_at = lambda _j: lr  # noqa: E731
    betas = g.get("betas") if isinstance(g.get("betas"), list) and len(g["betas"]) == 2 else [0.9, 0.999]
    eps = _num(g, "eps", 1e-8)
    if cls == "SGD":
        return OptimizerInfo("sgd", lr_at, wd, _num(g, "momentum", 0), g.get("nesterov") is True, source=source)
    if cls == "AdamW" or (cls == "Adam" and g.get("decoupled_weight_decay") is True):
        return OptimizerInfo("adamw", lr_at, wd, betas=(float(betas[0]), float(betas[1])), eps=eps, source=source)
    if cls == "Adam":
        return OptimizerInfo("adam", lr_at, wd, betas=(float(betas[0]), float(betas[1])), eps=eps, source=source)
    return NoOptimizer(f"no prediction for the optimizer {cls or '(unnamed)'}")


def _js_number(v: float) -> str:
    """A number as JavaScript's String() writes it (0.1, 1e-05 → 0.00001, 5 not 5.0), so the law's words match."""
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    if "e-" in r:
        mantissa, exp = r.split("e-")
        if int(exp) <= 6:
            digits = mantissa.replace(".", "").replace("-", "")
            sign = "-" if v < 0 else ""
            return f"{sign}0.{'0' * (int(exp) - 1)}{digits}"
    return r.replace("e-0", "e-").replace("e+", "e+")


def optimization(config: Any, total_steps: int, metadata: Optional[Mapping[str, str]]) -> Optimization:
    """The built-in system's optimizer, else the checkpoint metadata's (as conservationAnalysis.ts)."""
    b = built_in(config, total_steps)
    if b is not None:
        return b
    return from_metadata(metadata_json(metadata, "optimizer"))


def metadata_json(meta: Optional[Mapping[str, str]], key: str) -> Any:
    text = meta.get(key) if meta else None
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_metadata(path: str) -> Dict[str, str]:
    """A safetensors file's `__metadata__` (the header only, not the tensors); {} when unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                return {}
            (n,) = struct.unpack("<Q", head)
            if n > 100 << 20:
                return {}
            header = json.loads(f.read(n).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def stability_threshold(info: Optimization, lr: float) -> Tuple[float, str]:
    """`stabilityThreshold` of src/measures/sharpness.ts and what it applies to: GD 2/η, heavy-ball
    (2 + 2β)/η, Nesterov (2 + 2β)/((1 + 2β)η), Adam (2 + 2β₁)/((1 − β₁)η) for the preconditioned
    sharpness (38/η at β₁ = 0.9). NaN when η is not a positive number or the optimizer is unknown."""
    if isinstance(info, NoOptimizer) or not (math.isfinite(lr) and lr > 0):
        adam = isinstance(info, OptimizerInfo) and info.kind != "sgd"
        return math.nan, "preconditioned" if adam else "sharpness"
    if info.kind == "sgd":
        m = info.momentum
        if m > 0:
            return ((2 + 2 * m) / ((1 + 2 * m) * lr) if info.nesterov else (2 + 2 * m) / lr), "sharpness"
        return 2 / lr, "sharpness"
    b1 = info.betas[0]
    return (2 + 2 * b1) / ((1 - b1) * lr), "preconditioned"


@dataclass
class AdamMoments:
    """Adam's second moments v per parameter name and the updates applied t (from a checkpoint or the live optimizer)."""

    t: int
    v: Dict[str, Any] = field(default_factory=dict)


def moments_from_checkpoint(tensors: Mapping[str, Any], metadata: Mapping[str, str]) -> Optional[AdamMoments]:
    meta = metadata_json(metadata, "optimizer")
    t: Any = meta.get("t") if isinstance(meta, dict) else None
    if t is None and isinstance(metadata.get("optimizer_t"), str) and metadata["optimizer_t"].isdigit():
        t = int(metadata["optimizer_t"])
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        return None
    prefix = "optimizer/v/"
    return AdamMoments(t, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


def moments_from_optimizer(optimizer: Any, names: Mapping[int, str]) -> Optional[AdamMoments]:
    """The live torch optimizer's `exp_avg_sq` by parameter name (`names`: id(param) → name) and its step count."""
    out = AdamMoments(0)
    for group in getattr(optimizer, "param_groups", []):
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" in state and id(p) in names:
                out.v[names[id(p)]] = state["exp_avg_sq"]
                out.t = max(out.t, int(float(state.get("step", 0))))
    return out if out.v else None
