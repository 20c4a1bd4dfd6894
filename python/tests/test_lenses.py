"""Closed forms of the sharpness, conservation and LLC analyses of run.watch
(learning_mechanics/analyses/sharpness.py, conservation.py, llc.py), their settings, and the files
run.watch and `analyze` write. The same records computed by the TypeScript analyzer on the same
checkpoints are compared in test/integration/pythonLenses.test.ts."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import learning_mechanics as lm
from learning_mechanics.analyses import SettingsError, resolve
from learning_mechanics.analyses.cli import analyze
from learning_mechanics.analyses.conservation import detect_symmetries
from learning_mechanics.analyses.lanczos import default_start, lanczos_top
from learning_mechanics.analyses.llc import compute_llc
from learning_mechanics.analyses.optim_state import AdamMoments, NoOptimizer, OptimizerInfo, stability_threshold
from learning_mechanics.analyses.sharpness import compute_sharpness

SHARP = {"every": 1, "eigenvalues": 2, "iterations": 20, "tolerance": 1e-6, "fdStep": 1e-3}
SGD = OptimizerInfo("sgd", lambda _j: 0.1)


def half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out.reshape(y.shape) - y) ** 2).mean()


# ---------------------------------------------------------------- sharpness


def test_quadratic_loss_top_eigenvalues_are_those_of_its_hessian() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 7, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2, 7, dtype=torch.float64)
    y = torch.randn(40, generator=g, dtype=torch.float64)
    model = nn.Linear(7, 1, bias=False).double()
    # L(w) = mean ½(wᵀx − y)²: H = XᵀX / n, whatever w is.
    exact = torch.linalg.eigvalsh(x.T @ x / 40).flip(0)
    r = compute_sharpness(model, half_mse, (x, y), SHARP, step=3, lr=0.1, optimizer=SGD)
    assert r["eigenvalues"][0] == pytest.approx(float(exact[0]), rel=1e-10)
    assert r["eigenvalues"][1] == pytest.approx(float(exact[1]), rel=1e-8)
    assert r["method"] == "exact" and r["step"] == 3 and r["preconditioned"] is None
    assert r["threshold"] == pytest.approx(20.0) and r["thresholdOf"] == "sharpness"
    assert r["error"] < 1e-6 * r["eigenvalues"][0]
    w = model.weight.detach().reshape(-1)
    assert r["loss"] == pytest.approx(float((0.5 * (x @ w - y) ** 2).mean()), rel=1e-12)


def test_coupled_weight_decay_adds_lambda_to_every_eigenvalue_and_its_term_to_the_loss() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    model = nn.Linear(4, 1, bias=False).double()
    plain = compute_sharpness(model, half_mse, (x, y), SHARP, step=0, lr=0.1, optimizer=SGD)
    decayed = compute_sharpness(model, half_mse, (x, y), SHARP, step=0, lr=0.1, optimizer=OptimizerInfo("sgd", lambda _j: 0.1, weight_decay=0.25))
    assert decayed["eigenvalues"][0] == pytest.approx(plain["eigenvalues"][0] + 0.25, rel=1e-10)
    norm2 = float(model.weight.detach().pow(2).sum())
    assert decayed["loss"] == pytest.approx(plain["loss"] + 0.125 * norm2, rel=1e-12)
    # AdamW's decay is decoupled: not part of the objective.
    adamw = compute_sharpness(model, half_mse, (x, y), SHARP, step=0, lr=0.1, optimizer=OptimizerInfo("adamw", lambda _j: 0.1, weight_decay=0.25))
    assert adamw["eigenvalues"][0] == pytest.approx(plain["eigenvalues"][0], rel=1e-10)


class ScalarLinear(nn.Module):
    """f(x) = u·v·x."""

    def __init__(self, u: float, v: float) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.tensor(u, dtype=torch.float64))
        self.v = nn.Parameter(torch.tensor(v, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.u * self.v * x


def test_scalar_linear_network_has_its_closed_form_eigenvalues() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(200, generator=g, dtype=torch.float64)
    y = 1.5 * x + 0.1 * torch.randn(200, generator=g, dtype=torch.float64)
    u, v = 1.3, 0.7
    s, r = float((x * x).mean()), float((x * y).mean())
    # L = mean ½(uvx − y)²: ∂²L/∂u² = v²s, ∂²L/∂v² = u²s, ∂²L/∂u∂v = 2uvs − r.
    h = torch.tensor([[v * v * s, 2 * u * v * s - r], [2 * u * v * s - r, u * u * s]], dtype=torch.float64)
    exact = torch.linalg.eigvalsh(h).flip(0).tolist()
    out = compute_sharpness(ScalarLinear(u, v), half_mse, (x, y), SHARP, step=0, lr=0.5, optimizer=SGD)
    assert out["eigenvalues"] == pytest.approx(exact, rel=1e-10)
    assert out["iterations"] == 2  # the Krylov space of a 2 × 2 Hessian is exhausted after 2 products


def test_adam_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50, generator=g, dtype=torch.float64)
    model = nn.Linear(3, 1, bias=False).double()
    v = torch.tensor([[1e-2, 4e-4, 9e-6]], dtype=torch.float64)
    t, b1, b2, eps = 7, 0.9, 0.999, 1e-8
    adam = OptimizerInfo("adam", lambda _j: 1e-3, betas=(b1, b2), eps=eps)
    r = compute_sharpness(model, half_mse, (x, y), SHARP, step=7, lr=1e-3, optimizer=adam, moments=AdamMoments(t, {"weight": v}))
    p = (1 - b1**t) * ((v.reshape(-1) / (1 - b2**t)).sqrt() + eps)
    h = x.T @ x / 50
    exact = torch.linalg.eigvals(torch.diag(1 / p) @ h).real.max()
    assert r["preconditioned"] == pytest.approx(float(exact), rel=1e-8)
    assert r["thresholdOf"] == "preconditioned" and r["threshold"] == pytest.approx(38 / 1e-3)
    # Without second moments (step 0, a run that saved none): null, as in TypeScript.
    r0 = compute_sharpness(model, half_mse, (x, y), SHARP, step=0, lr=1e-3, optimizer=adam, moments=None)
    assert r0["preconditioned"] is None and "preconditionedError" not in r0


def test_stability_thresholds_are_the_typescript_ones() -> None:
    assert stability_threshold(OptimizerInfo("sgd", None), 0.1) == (pytest.approx(20.0), "sharpness")
    assert stability_threshold(OptimizerInfo("sgd", None, momentum=0.9), 0.1)[0] == pytest.approx(38.0)
    assert stability_threshold(OptimizerInfo("sgd", None, momentum=0.9, nesterov=True), 0.1)[0] == pytest.approx(3.8 / 2.8 / 0.1)
    assert stability_threshold(OptimizerInfo("adamw", None, betas=(0.9, 0.999)), 0.01)[0] == pytest.approx(3800.0)
    assert math.isnan(stability_threshold(NoOptimizer("?"), 0.1)[0])
    assert math.isnan(stability_threshold(OptimizerInfo("sgd", None), math.nan)[0])


def test_lanczos_start_vector_is_the_typescript_xorshift() -> None:
    # defaultStart(3) of src/measures/lanczos.ts, as node prints it: the same Krylov space on both sides.
    assert default_start(3).tolist() == [-0.36681293277069926, 0.7514139702543616, -0.033399674110114574]
    diag = torch.tensor([5.0, 3.0, 1.0, 0.5], dtype=torch.float64)
    r = lanczos_top(lambda q: diag * q, 4, count=2, max_iterations=10, tolerance=1e-12)
    assert r.values == pytest.approx([5.0, 3.0], rel=1e-12)


# ---------------------------------------------------------------- conservation


def relu_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3))


def data(n: int = 64):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(n, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return x, y


def test_symmetries_found_from_the_module_structure_and_checked() -> None:
    x, y = data()
    d = detect_symmetries(relu_mlp(), F.cross_entropy, x[:32], y[:32])
    assert [f"{s.kind} {s.layer} {s.law.count}" for s in d.symmetries] == ["rescale 0 → 2 12", "rescale 2 → 4 12", "translation 4 13"]
    tanh = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    d = detect_symmetries(tanh, F.cross_entropy, x[:32], y[:32])
    assert [s.kind for s in d.symmetries] == ["translation"]
    assert any("Tanh is not positively homogeneous" in n for n in d.notes)
    # A regression loss has no translation symmetry; the note says why.
    d = detect_symmetries(relu_mlp(), lambda o, t: ((o - t) ** 2).mean(), x[:32], torch.randn(32, 3))
    assert [s.kind for s in d.symmetries] == ["rescale", "rescale"]
    assert any("no translation symmetry" in n for n in d.notes)

    class Functional(nn.Module):
        def __init__(self, act) -> None:
            super().__init__()
            self.a, self.b, self.act = nn.Linear(5, 8), nn.Linear(8, 3), act

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.b(self.act(self.a(z)))

    # An activation applied in forward is invisible to the module tree: the numerical check decides.
    assert [s.layer for s in detect_symmetries(Functional(F.relu), F.cross_entropy, x[:32], y[:32]).symmetries] == ["a → b", "b"]
    found = detect_symmetries(Functional(torch.tanh), F.cross_entropy, x[:32], y[:32])
    assert [s.layer for s in found.symmetries] == ["b"] and any("changes the output" in n for n in found.notes)
    norm = nn.Sequential(nn.Linear(5, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))
    assert [f"{s.kind} {s.layer}" for s in detect_symmetries(norm, F.cross_entropy, x[:32], y[:32]).symmetries] == ["scale 0 (before 1)", "translation 3"]


def train_watched(tmp_path, lr: float, weight_decay: float, steps: int, every: int):
    x, y = data()
    model = relu_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    run = lm.init("mlp", {}, run_dir=str(tmp_path / "run"))
    run.watch(model, F.cross_entropy, train=(x, y), analyses={"kernel": {"every": 0}, "tracin": {"every": 0}, "sharpness": {"every": 0}})
    run.checkpoint(model, opt, step=0)
    for step in range(1, steps + 1):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        run.log({"train_loss": 0.0}, step=step)
        if step % every == 0:
            run.checkpoint(model, opt, step=step)
    run.finish()
    return str(tmp_path / "run"), model, x, y


def records(run_dir: str, name: str):
    with open(os.path.join(run_dir, "analyses", f"{name}.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return lines[0], lines[1:]


def test_conserved_at_tiny_learning_rate_without_weight_decay(tmp_path) -> None:
    run_dir, *_ = train_watched(tmp_path, lr=1e-4, weight_decay=0.0, steps=40, every=20)
    header, recs = records(run_dir, "conservation")
    assert header["settings"] == {"every": 1} and header["referenceStep"] == 0
    assert [r["step"] for r in recs] == [0, 20, 40]
    last = recs[-1]
    assert last["decay"] == 1 and last["time"] == pytest.approx(40 * 1e-4)
    assert "no weight decay" in last["law"]
    assert [s["layer"] for s in last["symmetries"]] == ["0 → 2", "2 → 4", "4"]
    for s in last["symmetries"]:
        assert s["drift"] < 1e-4, s
        assert s["predicted"] == 0 and s["quality"] in ("exact", "leading order")


def test_weight_decay_shrinks_the_quantities_as_predicted(tmp_path) -> None:
    run_dir, *_ = train_watched(tmp_path, lr=0.02, weight_decay=0.5, steps=60, every=20)
    _, recs = records(run_dir, "conservation")
    a = lambda k: (1 - 0.02 * 0.5) ** k  # noqa: E731
    for r in recs:
        assert r["decay"] == pytest.approx(a(r["step"]), abs=1e-12)
        for s in r["symmetries"]:
            f = a(r["step"]) if s["kind"] == "translation" else a(r["step"]) ** 2
            assert s["predicted"] == pytest.approx(1 - f, abs=1e-9)
            # Translation is exact (the cross-entropy gradient sums to 0 over classes); rescale leaves
            # the η²(‖g_in‖² − ‖g_out‖²) term.
            assert s["residual"] <= (1e-5 if s["kind"] == "translation" else 1e-3), s
    assert all(s["drift"] > 0.2 for s in recs[-1]["symmetries"])
    assert "SGD, coupled L2 λ = 0.5" in recs[-1]["law"] and "lr 0.02, weight_decay 0.5" in recs[-1]["law"]


# ---------------------------------------------------------------- LLC


def test_llc_of_linear_regression_is_d_over_two(tmp_path) -> None:
    g = torch.Generator().manual_seed(11)
    n, d_in = 1000, 4
    x = torch.randn(n, d_in, generator=g)
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 + 0.5 * torch.randn(n, generator=g)).unsqueeze(1)
    model = nn.Linear(d_in, 1)
    z = torch.cat([x, torch.ones(n, 1)], 1).double()
    theta = torch.linalg.solve(z.T @ z, z.T @ y.double())
    with torch.no_grad():
        model.weight.copy_(theta[:d_in].T)
        model.bias.copy_(theta[d_in])
    before = model.bias.detach().clone()
    settings = resolve({"llc": {"every": 1, "draws": 400, "burnIn": 200, "gamma": 1, "batchSize": n}})["llc"]
    r = compute_llc(model, lambda o, t: 0.5 * ((o - t) ** 2).sum(1).mean(), (x, y), settings, step=3)
    d = d_in + 1
    assert abs(r["llc"] - d / 2) <= 0.15 * d / 2, r["llc"]
    assert 0 < r["stdErr"] < 0.1 * d / 2
    assert len(r["chainLlc"]) == 4 and len(r["traces"]) == 4 and len(r["traces"][0]) == 400
    assert r["rhat"] < 1.1 and "warning" not in r
    assert r["nBeta"] == pytest.approx(n / math.log(n), rel=1e-12)  # β = 1/log n
    assert torch.equal(model.bias.detach(), before)  # w* restored


def test_llc_of_the_degenerate_minimum_of_uvx_is_one_half_not_d_over_two() -> None:
    g = torch.Generator().manual_seed(12)
    x = torch.randn(1000, generator=g, dtype=torch.float64)
    # y = x exactly: every (u, v) with uv = 1 is a minimum with zero loss, a curve: λ = 1/2, not d/2 = 1.
    model = ScalarLinear(1.0, 1.0)
    settings = resolve({"llc": {"every": 1, "draws": 400, "burnIn": 200, "gamma": 1, "batchSize": 1000}})["llc"]
    r = compute_llc(model, half_mse, (x, x.clone()), settings, step=5)
    assert abs(r["llc"] - 0.5) <= 0.15 * 0.5, r["llc"]


# ---------------------------------------------------------------- settings and files


def test_settings_defaults_and_messages() -> None:
    s = resolve(None)
    assert s["sharpness"] == {"every": 8, "eigenvalues": 2, "iterations": 20, "tolerance": 1e-2, "fdStep": 1e-3}
    assert s["llc"]["every"] == 0 and s["conservation"] == {"every": 1}
    with pytest.raises(SettingsError, match=r"analyses\.sharpness\.eigenvalues: must be an integer in \[1, 10\], got 0"):
        resolve({"sharpness": {"eigenvalues": 0}})
    with pytest.raises(SettingsError, match=r"analyses\.llc\.draws: must be an integer ≥ 4 \(split R-hat needs 4 draws per chain\), got 2"):
        resolve({"llc": {"draws": 2}})
    with pytest.raises(SettingsError, match=r"analyses\.llc\.gama: unknown setting \(did you mean 'gamma'\?\)"):
        resolve({"llc": {"gama": 1}})
    with pytest.raises(SettingsError, match=r"analyses\.llc\.epsilon: must be a positive number, got 0"):
        resolve({"llc": {"epsilon": 0}})
    with pytest.raises(SettingsError, match=r"analyses\.sharpness\.tolerance: must be a number in \(0, 1\), got 1"):
        resolve({"sharpness": {"tolerance": 1}})
    with pytest.raises(SettingsError, match=r"analyses\.conservaton: unknown analysis \(did you mean 'conservation'\?\)"):
        resolve({"conservaton": {"every": 1}})


def test_watch_and_analyze_afterwards_write_the_same_sharpness_and_llc(tmp_path) -> None:
    x, y = data()
    model = relu_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    run = lm.init("mlp", {}, run_dir=str(tmp_path / "run"))
    settings = {"kernel": {"every": 0}, "tracin": {"every": 0}, "sharpness": {"every": 1}, "llc": {"every": 2, "draws": 8, "burnIn": 4}}
    run.watch(model, F.cross_entropy, train=(x, y), analyses=settings)
    run.checkpoint(model, opt, step=0)
    for step in range(1, 21):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        run.log({"lr": 1e-2}, step=step)
        if step % 10 == 0:
            run.checkpoint(model, opt, step=step)
    run.finish()
    run_dir = str(tmp_path / "run")
    header, live = records(run_dir, "sharpness")
    assert header["settings"] == {"every": 1, "eigenvalues": 2, "iterations": 20, "tolerance": 1e-2, "fdStep": 1e-3}
    assert [r["step"] for r in live] == [0, 10, 20]
    assert live[0]["preconditioned"] is None and live[-1]["preconditioned"] > live[-1]["eigenvalues"][0]
    assert live[-1]["threshold"] == pytest.approx(3800) and live[-1]["thresholdOf"] == "preconditioned"
    _, llc_live = records(run_dir, "llc")
    assert [r["step"] for r in llc_live] == [0, 20]
    # The same from the checkpoints afterwards (the live step's Adam moments came from the optimizer).
    os.rename(os.path.join(run_dir, "analyses"), os.path.join(run_dir, "analyses-live"))
    factory = tmp_path / "factory.py"
    factory.write_text(
        "import torch, torch.nn as nn, torch.nn.functional as F\n"
        "def make():\n"
        "    torch.manual_seed(1)\n"
        "    m = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3))\n"
        f"    g = torch.Generator().manual_seed(5)\n"
        "    x = torch.randn(64, 5, generator=g)\n"
        "    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()\n"
        f"    return dict(model=m, loss_fn=F.cross_entropy, train=(x, y), analyses={settings!r})\n"
    )
    analyze(run_dir, f"{factory}:make", only=["sharpness", "llc", "conservation"], log=lambda _m: None)
    _, after = records(run_dir, "sharpness")
    for a, b in zip(live, after):
        assert a["eigenvalues"] == pytest.approx(b["eigenvalues"], rel=1e-5)
        assert (a["preconditioned"] is None) == (b["preconditioned"] is None)
        if a["preconditioned"] is not None:
            assert a["preconditioned"] == pytest.approx(b["preconditioned"], rel=1e-4)
    _, llc_after = records(run_dir, "llc")
    assert [r["llc"] for r in llc_after] == pytest.approx([r["llc"] for r in llc_live], rel=1e-4)


def test_sharpness_and_llc_need_a_loss(tmp_path) -> None:
    run = lm.init("mlp", {}, run_dir=str(tmp_path / "run"))
    x, y = data()
    with pytest.raises(SettingsError, match=r"analyses\.llc: needs loss_fn= in run\.watch"):
        run.watch(relu_mlp(), None, train=(x, y), analyses={"kernel": {"every": 0}, "llc": {"every": 1}})
    run.finish()
