"""Per-example gradients, the LoGra projection and TracIn on PyTorch models (analyses/pergrad.py,
analyses/tracin.py) against closed forms and plain autograd. The cross-check against the
TypeScript analyzer on the same checkpoints is test/integration/pythonInfluence.test.ts."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from learning_mechanics import models
from learning_mechanics.analyses.pergrad import (
    Projection,
    normals,
    param_roles,
    per_example_grads,
)
from learning_mechanics.analyses.tracin import compute_tracin, scored_rows, tracin_scores


class Net(nn.Module):
    """Every kind of parameter: an embedding, nn.Linear weights and biases, a bare parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lin = nn.Linear(8, 6)
        self.scale = nn.Parameter(torch.tensor([1.5, 0.5, 1.0, 2.0, 1.0, 0.7]))
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x).reshape(x.shape[0], -1)
        return self.head(torch.tanh(self.lin(h)) * self.scale)


def data(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (n, 2), generator=g), torch.randint(0, 3, (n,), generator=g)


def test_normals_match_typescript() -> None:
    # new Rng(0, "logra", "layers.0.weight", "in").normals(5, 1/√4) and Rng(-7, …, "out.bias", "out").normals(3, 0.125), printed by node.
    assert normals(0, ["logra", "layers.0.weight", "in"], 5, 0.5).tolist() == [
        -0.2420494705438614, -0.47770360112190247, -0.45934924483299255, 0.41726160049438477, -0.1642511487007141,
    ]
    assert normals(-7, ["logra", "out.bias", "out"], 3, 0.125).tolist() == [
        0.1111154854297638, 0.05701655149459839, -0.12292978912591934,
    ]


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_per_example_grads_equal_a_loop_of_autograd_grad(reduction: str) -> None:
    torch.manual_seed(1)
    model = Net()
    x, y = data(7)
    loss_fn = lambda o, t: F.cross_entropy(o, t, reduction=reduction)  # noqa: E731
    chunks = list(per_example_grads(model, loss_fn, x, y, chunk=3))
    assert [c["lin.weight"].shape[0] for c in chunks] == [3, 3, 1]
    got = {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}
    params = [p for _, p in model.named_parameters()]
    for i in range(7):
        want = torch.autograd.grad(F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), params)
        for (name, _), w in zip(model.named_parameters(), want):
            assert torch.allclose(got[name][i], w, atol=1e-6, rtol=1e-5), (name, i)


def test_roles_come_from_the_module_structure() -> None:
    roles = {r.name: (r.kind, r.in_dim, r.out_dim, r.transposed) for r in param_roles(Net())}
    assert roles == {
        "emb.weight": ("linear", 10, 4, False),  # one-hot input: table rows are the input side
        "lin.weight": ("linear", 8, 6, True),  # nn.Linear stores [out, in]
        "lin.bias": ("bias", 1, 6, False),
        "scale": ("fallback", 6, 1, False),
        "head.weight": ("linear", 6, 3, True),
        "head.bias": ("bias", 1, 3, False),
    }
    spec = {"kind": "transformer", "layers": 1, "dModel": 8, "heads": 2, "dMlp": 16, "activation": "relu",
            "layerNorm": True, "initScale": 1.0}
    t = models.build_model(spec, {"kind": "tokens", "vocab": 5, "length": 3}, {"kind": "classes", "count": 5})
    troles = {r.name: r.kind for r in param_roles(t)}
    # As the TypeScript tap: [in, out] weights and MLP biases are layers; the positional table and
    # LayerNorm gains/biases are not.
    assert troles["embed.weight"] == troles["blocks.0.attn.wq"] == troles["unembed.weight"] == "linear"
    assert troles["blocks.0.mlp.b1"] == "bias"
    assert troles["pos.weight"] == troles["blocks.0.ln1.g"] == troles["lnf.b"] == "fallback"


def random_grads(model: nn.Module, n: int):
    g = torch.Generator().manual_seed(5)
    return {k: torch.randn((n, *p.shape), generator=g) for k, p in model.named_parameters()}


def test_projection_is_exact_when_every_side_fits() -> None:
    model = Net()
    grads = random_grads(model, 4)
    rows = Projection(param_roles(model), seed=3, k_in=64, k_out=64, k_fallback=4096).project(grads)
    # Layers in order ([in, out] row-major: nn.Linear's gradient transposed), then the fallback block.
    want = torch.cat(
        [grads["emb.weight"].reshape(4, -1), grads["lin.weight"].transpose(1, 2).reshape(4, -1), grads["lin.bias"],
         grads["head.weight"].transpose(1, 2).reshape(4, -1), grads["head.bias"], grads["scale"]], 1)
    assert torch.equal(rows, want)


def test_projection_is_factorwise_with_the_typescript_matrices_and_lift_is_its_adjoint() -> None:
    model = Net()
    proj = Projection(param_roles(model), seed=11, k_in=3, k_out=2, k_fallback=4)
    assert proj.dim == 3 * 2 + 3 * 2 + 1 * 2 + 3 * 2 + 1 * 2 + 4
    grads = random_grads(model, 2)
    rows = proj.project(grads)
    p_in = normals(11, ["logra", "lin.weight", "in"], 8 * 3, 1 / math.sqrt(3)).reshape(8, 3)
    p_out = normals(11, ["logra", "lin.weight", "out"], 6 * 2, 1 / math.sqrt(2)).reshape(6, 2)
    block = proj.blocks[1]
    assert block.name == "lin.weight"
    want = p_in.T @ grads["lin.weight"][1].T @ p_out
    assert torch.allclose(rows[1, block.offset : block.offset + block.size], want.reshape(-1), atol=1e-5)
    fb = normals(11, ["logra", "scale", "fallback"], 6 * 4, 1 / math.sqrt(4 * 1)).reshape(6, 4)
    assert torch.allclose(rows[0, -4:], grads["scale"][0] @ fb, atol=1e-5)
    # ⟨project(G), v⟩ = ⟨G, lift(v)⟩ for every G: what lets TracIn skip the per-example rows.
    v = torch.randn(proj.dim, generator=torch.Generator().manual_seed(2))
    lifted = proj.lift(v)
    for i in range(2):
        full = sum(float((grads[k][i] * lifted[k]).sum()) for k in lifted)
        assert math.isclose(float(rows[i] @ v), full, rel_tol=1e-4)


def test_tracin_scores_equal_projected_rows_dotted_with_the_projected_query_mean() -> None:
    torch.manual_seed(2)
    model = Net()
    train, query = data(9, 1), data(5, 2)
    loss_fn = nn.CrossEntropyLoss()
    proj = Projection.logra(model, 2, seed=4)
    scores = tracin_scores(model, loss_fn, train, query, 0.3, proj, chunk=4)
    rows = proj.project(next(per_example_grads(model, loss_fn, *train, chunk=9)))
    qbar = proj.project(next(per_example_grads(model, loss_fn, *query, chunk=5))).mean(0)
    assert torch.allclose(scores, 0.3 * rows @ qbar, atol=1e-6, rtol=1e-4)


def linear_regression(d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=g))
    x, y = torch.randn(12, d, generator=g), torch.randn(12, 1, generator=g)
    xq, yq = torch.randn(4, d, generator=g), torch.randn(4, 1, generator=g)
    return model, (x, y), (xq, yq)


def half_mse(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((o - t) ** 2).mean()


def test_tracin_on_linear_regression_is_the_closed_form() -> None:
    d, lr = 5, 0.05
    model, (x, y), (xq, yq) = linear_regression(d, 0)
    w = model.weight.detach()[0]
    qbar = (((xq @ w) - yq[:, 0])[:, None] * xq).mean(0)
    want = lr * ((x @ w) - y[:, 0]) * (x @ qbar)  # η (wᵀx − y) x · q̄
    rec = compute_tracin(model, half_mse, (x, y), (xq, yq), {"projectionDim": 8}, lr, step=3, seed=0)
    assert rec["step"] == 3 and rec["lr"] == lr and len(rec["values"]) == 12
    assert torch.allclose(torch.tensor(rec["values"]), want, atol=1e-6, rtol=1e-5)
    assert rec["projectionError"] < 1e-6  # k = 8 ≥ d = 5: not projected
    # Projected (k = 2 < d): the input side goes through P_in from the seeded generator: η r x·P Pᵀ q̄.
    p = normals(9, ["logra", "weight", "in"], d * 2, 1 / math.sqrt(2)).reshape(d, 2)
    rec = compute_tracin(model, half_mse, (x, y), (xq, yq), {"projectionDim": 2}, lr, step=3, seed=9)
    want = lr * ((x @ w) - y[:, 0]) * (x @ p @ p.T @ qbar)
    assert torch.allclose(torch.tensor(rec["values"]), want, atol=1e-6, rtol=1e-5)
    assert rec["projectionError"] > 0.01


def test_settings_and_lr_mistakes_are_said_plainly() -> None:
    model, train, query = linear_regression(3, 1)
    with pytest.raises(ValueError, match=r"no learning rate logged at step 40"):
        compute_tracin(model, half_mse, train, query, {"projectionDim": 4}, float("nan"), step=40, seed=0)
    with pytest.raises(ValueError, match=r"tracin.projectionDim must be a positive integer, got 0"):
        compute_tracin(model, half_mse, train, query, {"projectionDim": 0}, 0.1, step=0, seed=0)
    with pytest.raises(ValueError, match=r"loss_fn must return the batch's mean loss \(a scalar\) or one loss per example"):
        compute_tracin(model, lambda o, t: (o - t) ** 2, train, query, {"projectionDim": 4}, 0.1, step=0, seed=0)
    assert scored_rows(10, 0) == list(range(10)) and scored_rows(10, 3) == [0, 1, 2] and scored_rows(2, 5) == [0, 1]


class DataDependent(nn.Module):
    """A model vmap cannot batch: its forward reads a value of the input (.item())."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * (2.0 if float(x.sum()) > 0 else 1.0)


def test_per_example_grads_of_a_model_vmap_cannot_batch_come_one_at_a_time() -> None:
    torch.manual_seed(3)
    model = DataDependent()
    x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
    got = next(per_example_grads(model, F.cross_entropy, x, y, chunk=5))
    for i in range(5):
        want = torch.autograd.grad(F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), [model.lin.weight])[0]
        assert torch.allclose(got["lin.weight"][i], want, atol=1e-6)


class NoJvp(torch.autograd.Function):
    """x² with a backward but no forward-mode formula, as many custom ops are written."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return 2 * x * g


class CustomOp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return NoJvp.apply(self.lin(x))


def test_tracin_through_an_op_without_forward_mode_uses_reverse_mode() -> None:
    torch.manual_seed(4)
    model = CustomOp()
    train, query = (torch.randn(6, 4), torch.randint(0, 3, (6,))), (torch.randn(3, 4), torch.randint(0, 3, (3,)))
    proj = Projection.logra(model, 2, seed=1)
    scores = tracin_scores(model, F.cross_entropy, train, query, 0.5, proj)
    rows = proj.project(next(per_example_grads(model, F.cross_entropy, *train, chunk=6)))
    qbar = proj.project(next(per_example_grads(model, F.cross_entropy, *query, chunk=3))).mean(0)
    assert torch.allclose(scores, 0.5 * rows @ qbar, atol=1e-6, rtol=1e-4)
